"""A server of skills (io.modelcontextprotocol/skills): the example skills, or the folder given in
$FERROMCP_TEST_SKILLS, plus one skill defined in code. `python skills.py` serves stdio, `python skills.py http
PORT` Streamable HTTP."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ferromcp import Server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "skills"
server = Server("skills", "1.0.0")
server.add_skills(os.environ.get("FERROMCP_TEST_SKILLS") or EXAMPLES)
server.add_skill(
    "---\nname: haiku\ndescription: Answer in a haiku.\n---\n\nFive, seven, five syllables; see `form.txt`.\n",
    {"form.txt": "line one: five\nline two: seven\nline three: five\n"},
)

if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        server.run("http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
