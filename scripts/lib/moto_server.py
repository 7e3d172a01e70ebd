"""moto's server with every request handled under one lock.

moto's DynamoDB checks a condition and then writes, without a lock: on its threaded server two
conditional writes of one item can both succeed (measured: in 4 rounds of 500, 12 concurrent
`attribute_not_exists` puts of one item had two winners; serialised, in none). Real DynamoDB applies each conditional write
atomically, and Berth's idempotency claims and commit lease rely on that, so the tests run moto
with its requests serialised. Connections are still served by threads; only the handling of one
request at a time is serial, which the interpreter lock already nearly was.

Usage: python moto_server.py [moto_server's arguments]
"""

import threading

from moto import server

_one_at_a_time = threading.Lock()
_dispatch = server.DomainDispatcherApplication.__call__


def _serialised(self, environ, start_response):
    with _one_at_a_time:
        # moto builds the whole response body before returning it.
        return _dispatch(self, environ, start_response)


server.DomainDispatcherApplication.__call__ = _serialised

if __name__ == "__main__":
    server.main()
