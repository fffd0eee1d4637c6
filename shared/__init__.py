"""Runtime code the pattern handlers share; shipped to Lambda as the ``shared`` layer.

Nothing here may import ``aws_cdk``, ``patterns`` or ``localcloud``: it runs inside Lambda.
"""
