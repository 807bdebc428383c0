"""Writes the first ```c block of a Markdown file to a C file (the docs' examples are compiled
and run by the tests).  Usage: extract-c-example.py DOC.md OUT.c"""
import sys

doc, out = sys.argv[1], sys.argv[2]
lines = open(doc, encoding="utf-8").read().splitlines()
start = lines.index("```c") + 1
end = lines.index("```", start)
with open(out, "w", encoding="utf-8") as f:
    f.write(f"/* Generated from {doc}: edit the document, not this file. */\n")
    f.write("\n".join(lines[start:end]) + "\n")
