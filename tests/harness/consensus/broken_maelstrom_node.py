"""A deliberately broken Maelstrom lin-kv node: each process keeps its own map, no replication.

Run by tests/harness/consensus/test_maelstrom.py as an *external* subject: the
linearizability checker must reject the histories it produces.
"""

import json
import sys

node = ""
data = {}
next_id = 0


def send(dest, body):
    global next_id
    next_id += 1
    body["msg_id"] = next_id
    print(json.dumps({"src": node, "dest": dest, "body": body}), flush=True)


for line in sys.stdin:
    msg = json.loads(line)
    body = msg["body"]
    reply = {"in_reply_to": body.get("msg_id")}
    kind = body["type"]
    if kind == "init":
        node = body["node_id"]
        reply["type"] = "init_ok"
    elif kind == "read":
        if body["key"] in data:
            reply.update(type="read_ok", value=data[body["key"]])
        else:
            reply.update(type="error", code=20, text="key does not exist")
    elif kind == "write":
        data[body["key"]] = body["value"]
        reply["type"] = "write_ok"
    elif kind == "cas":
        if body["key"] not in data:
            reply.update(type="error", code=20, text="key does not exist")
        elif data[body["key"]] != body["from"]:
            reply.update(type="error", code=22, text="precondition failed")
        else:
            data[body["key"]] = body["to"]
            reply["type"] = "cas_ok"
    else:
        reply.update(type="error", code=10, text="not supported")
    send(msg["src"], reply)
