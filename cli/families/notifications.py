"""`coursework` subcommands and the demo step of the notifications family. Filled in by the family's issue.

Contract: `register(subparsers)` adds subcommands; `demo(d: cli.demo.DemoContext) -> bool` runs
this family's real jobs through `d.client` on the embedded defaults and prints with `d.say`.
"""
