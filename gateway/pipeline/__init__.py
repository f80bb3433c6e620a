"""The one request pipeline every front door uses (docs/ARCHITECTURE.md walks through it).

``serve`` (:mod:`.serve`) runs, in order: the prologue (:mod:`.prologue`: auth, body, the front door's parser,
target, admission), the plan (:mod:`.plan`: the decision once, :func:`router.routing.route`, the render of
every step), the dispatcher (:mod:`.dispatch`: endpoint choice, retries before the first byte, in-flight
leases, openers for native HTTP and budget forcing), then the front door's writer (:mod:`.door`) and the
bookkeeping (:mod:`.ledger`). Client disconnects cancel the upstream work on every path (:mod:`.disconnect`).
"""
