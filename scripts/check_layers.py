#!/usr/bin/env python3
"""The house rules of the source tree, checked from the files themselves (a ctest, `layers`):

1. Every library is a top-level folder with include/sqz/<name>/ and src/, named in LIBRARIES.
2. A library's files include another library's headers only through "sqz/<name>/..." and only
   when its CMakeLists.txt links that library (directly or through what it links): the include
   graph follows the link graph, which has no cycle, so no lower library includes a higher one.
3. No include leaves a target by a relative path ("../").
4. No library below cli/ speaks in flags: no "--name" in its strings or comments (libraries name
   options as `name`, and each front end spells them).
5. No file in a library's src/ (or in cli/, python/src/) over MAX_FILE_LINES lines, no function
   over MAX_FUNCTION_LINES.

Usage: check_layers.py [ROOT]. Prints each broken rule as FILE:LINE: problem, and exits 1 when
there is one.
"""
import os
import re
import sys

# Lowest first; the same order as the root CMakeLists.txt adds them.
LIBRARIES = ["core", "huffman", "format", "import", "prune", "quantize", "kernels", "image",
             "runtime", "train", "report", "pipeline"]
# Front ends: checked for rule 5 only.
FRONT_ENDS = ["cli", "python/src"]
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80
SOURCE_EXTENSIONS = (".cc", ".h", ".inc")

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
LINK = re.compile(r"target_link_libraries\(\s*sqz_(\w+)([^)]*)\)", re.S)
FLAG = re.compile(r"(?<![\w\[(-])--[a-z][a-z0-9-]*")


def library_links(root):
    """Direct links of each library, from its CMakeLists.txt (sqz_<name> targets only)."""
    links = {}
    for lib in LIBRARIES:
        text = open(os.path.join(root, lib, "CMakeLists.txt")).read()
        for target, args in LINK.findall(text):
            if target == lib:
                links[lib] = {name for name in re.findall(r"\bsqz_(\w+)", args) if name in LIBRARIES}
    return links


def closure(links):
    """What each library may include: itself and everything it links, transitively. Also
    reports a cycle in the link graph."""
    reach, problems = {}, []

    def visit(lib, path):
        if lib in path:
            problems.append("link cycle: " + " -> ".join(path + [lib]))
            return set()
        if lib not in reach:
            below = {lib}
            for dep in links.get(lib, ()):
                below |= visit(dep, path + [lib])
            reach[lib] = below
        return reach[lib]

    for lib in LIBRARIES:
        visit(lib, [])
    return reach, problems


def source_files(root, lib):
    for folder, _, files in os.walk(os.path.join(root, lib)):
        for name in sorted(files):
            if name.endswith(SOURCE_EXTENSIONS):
                yield os.path.join(folder, name)


def strings_and_comments(line):
    """The parts of a line a reader sees as text: string literals and the // comment."""
    parts, i, code = [], 0, line
    comment = None
    while i < len(code):
        if code.startswith("//", i):
            comment = code[i:]
            break
        if code[i] == '"':
            j = i + 1
            while j < len(code) and code[j] != '"':
                j += 2 if code[j] == "\\" else 1
            parts.append(code[i:j + 1])
            i = j + 1
            continue
        i += 1
    if comment:
        parts.append(comment)
    return parts


def long_functions(lines):
    """(first line, length) of each function longer than MAX_FUNCTION_LINES: a brace block at
    file scope (namespaces do not count) that is not a type or an initializer, from the line
    that opens it to the one that closes it."""
    found, depth, start, namespaces = [], 0, None, []
    for n, raw in enumerate(lines, 1):
        line = re.sub(r"'(\\.|[^'\\])'", "''", re.sub(r'"(\\.|[^"\\])*"', '""', raw.split("//")[0]))
        for i, ch in enumerate(line):
            if ch == "{":
                head = line[:i]
                if re.search(r"\bnamespace\b[\w:\s]*$", head) or 'extern ""' in head:
                    namespaces.append(depth)
                elif depth == len(namespaces) and start is None:
                    definition = re.match(r"\s*(struct|class|enum|union)\b", line) or "=" in head
                    start = None if definition else n
                    if definition:
                        start = -1
                depth += 1
            elif ch == "}":
                depth -= 1
                if namespaces and namespaces[-1] == depth:
                    namespaces.pop()
                elif start is not None and depth == len(namespaces):
                    if start > 0 and n - start + 1 > MAX_FUNCTION_LINES:
                        found.append((start, n - start + 1))
                    start = None
    return found


def size_problems(rel, lines):
    problems = []
    if len(lines) - 1 > MAX_FILE_LINES:
        problems.append(f"{rel}: {len(lines) - 1} lines (at most {MAX_FILE_LINES})")
    for first, length in long_functions(lines):
        problems.append(f"{rel}:{first}: a function of {length} lines (at most {MAX_FUNCTION_LINES})")
    return problems


def main():
    # The tree to check: the argument, else the checkout this script is in.
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = []
    links = library_links(root)
    reach, cycles = closure(links)
    problems += cycles
    for lib in LIBRARIES:
        for sub in ("include/sqz/" + lib, "src"):
            if not os.path.isdir(os.path.join(root, lib, sub)):
                problems.append(f"{lib}/: no {sub}/")
        for path in source_files(root, lib):
            rel = os.path.relpath(path, root)
            lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
            for n, line in enumerate(lines, 1):
                m = INCLUDE.match(line)
                if m:
                    target = m.group(1)
                    if target.startswith("../") or "/../" in target:
                        problems.append(f"{rel}:{n}: relative include across folders: {target}")
                    parts = target.split("/")
                    if len(parts) >= 3 and parts[0] == "sqz":
                        other = parts[1]
                        if other in LIBRARIES and other not in reach[lib]:
                            problems.append(f"{rel}:{n}: {lib} includes {target} but does not "
                                            f"link sqz_{other}")
                    continue
                for text in strings_and_comments(line):
                    flag = FLAG.search(text)
                    if flag:
                        problems.append(f"{rel}:{n}: a flag in a library: {flag.group(0)}")
            if "/src/" in path:
                problems += size_problems(rel, lines)
    for front in FRONT_ENDS:
        for path in source_files(root, front):
            lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
            problems += size_problems(os.path.relpath(path, root), lines)
    order = sorted(LIBRARIES, key=lambda lib: len(reach[lib]))
    print("libraries, each above what it links:", " < ".join(order))
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
