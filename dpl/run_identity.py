"""Old path of dpl.runs.run_identity, kept as the entry point the protocol scripts and users call
(``python -m dpl.run_identity check ...``)."""
from dpl.runs.run_identity import *  # noqa: F401,F403
from dpl.runs.run_identity import main

if __name__ == "__main__":
    main()
