QUOTES = ["Simplicity is prerequisite for reliability.", "Make it work, make it right, make it fast."]


def pick(n):
    return QUOTES[n % len(QUOTES)]
