"""Entry point of the plugin package (PulumiPlugin.yaml): hosts the components for other languages.

The stack program's entry point is infra/__main__.py (Pulumi.yaml's `main`); this
file is run only when another stack uses the components through `pulumi package add`.
"""

from components.host import main

main()
