import time
from tests.conftest import Workspace
from tests.api.test_customers_upsert import big_customer, define, ALL_WITH_RELATED
from tests.api.documents import UPSERT
from sqlalchemy import event

async def test_probe(workspace: Workspace, runtime) -> None:
    await define(workspace, "plan", "STRING", allowedValues=["free", "pro"])
    batch = [big_customer(n) for n in range(1000)]
    t=time.perf_counter(); r = await workspace.gql(UPSERT, {"customers": batch}); print("\nupsert http", time.perf_counter()-t)
    times = []
    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["t"] = time.perf_counter()
    def after(conn, cursor, statement, parameters, context, executemany):
        times.append((time.perf_counter() - conn.info["t"], statement[:60]))
    event.listen(runtime.engine.sync_engine, "before_cursor_execute", before)
    event.listen(runtime.engine.sync_engine, "after_cursor_execute", after)
    t=time.perf_counter(); r = await workspace.gql(ALL_WITH_RELATED, {"first": 1000}); print("read related", time.perf_counter()-t)
    for x in times: print(x)
    times.clear()
    batch = [{"id": f"c{n:04d}", "orders": [{"id": f"o{k}", "amount": 1} for k in range(10)]} for n in range(1000)]
    t=time.perf_counter(); r = await workspace.gql(UPSERT, {"customers": batch}); print("\nupsert 10 orders", time.perf_counter()-t)
    for x in times: print(x)
