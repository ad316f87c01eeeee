"""The labthings_async benchmark suite: ``python -m benchmarks`` (see README.md here).

Each topic module measures one workload, side by side with LabThings-FastAPI
0.3.0 and a hello-world floor, with every server in its own process.
"""
