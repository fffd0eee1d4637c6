// The page and the API share one origin: /api/* is the API behind the same distribution. A JSON
// POST from another origin would need a CORS preflight (OPTIONS); from here it needs none, and
// the API's errors reach the page as the API wrote them.
"use strict";

const view = document.getElementById("view");
const answer = document.getElementById("answer");

function price(cents) {
  return (cents / 100).toLocaleString("en-US", { style: "currency", currency: "USD" });
}

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  Object.entries(attributes || {}).forEach(([name, value]) => node.setAttribute(name, value));
  children.forEach((child) => node.append(child));
  return node;
}

async function api(method, path, body) {
  const response = await fetch(`/api${path}`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json();
  return { status: response.status, data };
}

async function showList() {
  const { status, data } = await api("GET", "/items?limit=50");
  if (status !== 200) {
    view.replaceChildren(element("p", { class: "error" }, `The API answered ${status}: ${data.message}`));
    return;
  }
  const list = element("ul", { class: "items" });
  data.items.forEach((item) => {
    list.append(
      element(
        "li",
        {},
        element("a", { href: `/item/${item.id}`, "data-route": "" }, item.name),
        element("span", { class: "price" }, price(item.price_cents)),
      ),
    );
  });
  const form = element(
    "form",
    { id: "add" },
    element("input", { name: "name", placeholder: "Name", required: "", "aria-label": "Name" }),
    element("input", { name: "price", placeholder: "Price (cents)", inputmode: "numeric", "aria-label": "Price in cents" }),
    element("button", { type: "submit" }, "Add"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = new FormData(form);
    const { status: added, data: created } = await api("POST", "/items", {
      name: fields.get("name"),
      price_cents: Number(fields.get("price")),
    });
    if (added === 201) {
      await showList();
    } else {
      answer.textContent = `${added}: ${created.message}`;
    }
  });
  view.replaceChildren(
    element("p", { id: "count" }, `${data.items.length} item${data.items.length === 1 ? "" : "s"}`),
    list,
    form,
  );
}

async function showItem(id) {
  const { status, data } = await api("GET", `/items/${encodeURIComponent(id)}`);
  if (status !== 200) {
    view.replaceChildren(element("p", { class: "error", id: "missing" }, `${status}: ${data.message}`));
    return;
  }
  view.replaceChildren(element("h1", {}, data.name), element("p", { class: "price" }, price(data.price_cents)));
}

function render() {
  const match = window.location.pathname.match(/^\/item\/([^/]+)$/);
  return match ? showItem(decodeURIComponent(match[1])) : showList();
}

document.getElementById("find").addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = new FormData(event.target).get("id");
  const { status, data } = await api("GET", `/items/${encodeURIComponent(id)}`);
  answer.textContent = status === 200 ? `${data.name}: ${price(data.price_cents)}` : `${status}: ${data.message}`;
});
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-route]");
  if (link) {
    event.preventDefault();
    window.history.pushState({}, "", link.getAttribute("href"));
    render();
  }
});
window.addEventListener("popstate", render);
render();
