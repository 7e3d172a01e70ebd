"""Schemathesis hooks for the run against `berth dev` (loaded through SCHEMATHESIS_HOOKS).

HTTP cannot carry control characters in a header value (RFC 9110, section 5.5): the HTTP
server in front of the application (hyper) refuses such a request with a bare 400 before
Berth sees it. Schemathesis generates them anyway in its coverage phase, where the
`filter_headers` hook does not apply, so they are removed just before each call instead.
"""

import schemathesis


def _carriable(value):
    if not isinstance(value, str):
        return value
    return "".join(c for c in value if c == "\t" or 0x20 <= ord(c) < 0x7F)


@schemathesis.hook
def before_call(context, case, **kwargs):
    if case.headers:
        case.headers = {name: _carriable(value) for name, value in case.headers.items()}
