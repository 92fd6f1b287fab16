"""gRPC's core library logs on its own, as text on stderr beside a service's JSON lines. Below
ERROR it writes what any caller can provoke at will (a line for each TLS handshake without a client
certificate, a port scan's plain HTTP), so a process of the platform keeps it at ERROR unless
GRPC_VERBOSITY is set. Imported before grpc is: the core reads the variable once, when it loads.
"""

import os

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
