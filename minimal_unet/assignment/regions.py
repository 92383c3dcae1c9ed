"""Solution regions: the marker comments in the library's source, found and stripped.

The functions a course assigns carry two marker comment lines in the library itself,
around the part of the body a student writes, and an optional hint:

    def relu_forward_naive(x):
        check_float_array("x", x)            <- kept: the student gets the input checks
        # BEGIN SOLUTION
        # HINT: loop over np.ndindex(x.shape) ...
        y = np.empty_like(x)                 <- removed in the student copy
        ...
        # END SOLUTION

`strip_solutions` replaces a region (markers included) with one line at the BEGIN
marker's indentation, `raise NotImplementedError("relu_forward_naive: <hint>")`. Markers
are found with `tokenize`, so only real comment lines count (a marker quoted in a
docstring or a string is left alone). The region's exercise is the qualified name of the
innermost function around it.
"""

import ast
import dataclasses
import io
import tokenize

BEGIN_MARKER = "# BEGIN SOLUTION"
END_MARKER = "# END SOLUTION"
HINT_PREFIX = "# HINT:"


@dataclasses.dataclass(frozen=True)
class Region:
    """One marked solution region: lines begin..end (1-based, markers included)."""

    path: str  # file, relative to the copied tree
    name: str  # the exercise: qualified name of the enclosing function
    begin: int
    end: int
    indent: str
    hint: str


# ----------------------------------------------------------------------- finding regions


def _marker_comments(source):
    """[(line number, comment)] of the comments that fill a whole line (tokenize: no strings)."""
    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT and tok.line.strip() == tok.string.strip():
                found.append((tok.start[0], tok.string.strip()))
    except (tokenize.TokenError, SyntaxError):  # e.g. a notebook cell with a shell escape
        found = [(i, line.strip()) for i, line in enumerate(source.splitlines(), start=1)
                 if line.strip().startswith("#")]
    return found


def _enclosing_functions(source):
    """[(first line, last line, qualified name)] of every def, or [] if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    spans = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno, child.end_lineno, name))
                visit(child, name + ".")

    visit(tree, "")
    return spans


def _indent(line):
    return line[: len(line) - len(line.lstrip())]


def find_regions(source, path="<source>", default_name=None):
    """Every solution region of `source`, in order. Bad markers are a ValueError naming the line.

    The exercise name is the innermost function around the region, else `default_name`
    (e.g. "notebook cell 3"), else "<path>:<line>".
    """
    lines = source.splitlines()
    functions = _enclosing_functions(source)
    regions, begin, hint = [], None, None
    for number, comment in _marker_comments(source):
        if comment == BEGIN_MARKER:
            if begin is not None:
                raise ValueError(f"{path}:{number}: expected {END_MARKER!r} to close the "
                                 f"region opened at line {begin}, got another BEGIN")
            begin, hint = number, None
        elif comment.startswith(HINT_PREFIX) and begin is not None:
            hint = comment[len(HINT_PREFIX):].strip()
        elif comment == END_MARKER:
            if begin is None:
                raise ValueError(f"{path}:{number}: expected {BEGIN_MARKER!r} before "
                                 f"{END_MARKER!r}, got none")
            indent, end_indent = _indent(lines[begin - 1]), _indent(lines[number - 1])
            if end_indent != indent:
                raise ValueError(f"{path}:{number}: expected the END marker at the BEGIN "
                                 f"marker's indentation {len(indent)}, got {len(end_indent)}")
            # (an END marker after a function's last statement lies past its end_lineno)
            inside = [name for first, last, name in functions if first <= begin <= last]
            name = inside[-1] if inside else default_name or f"{path}:{begin}"
            regions.append(Region(str(path), name, begin, number, indent, hint or ""))
            begin = None
    if begin is not None:
        raise ValueError(f"{path}:{begin}: expected {END_MARKER!r} to close this region, "
                         "got the end of the file")
    return regions


def strip_solutions(source, path="<source>", default_name=None, only=None):
    """`source` with every region replaced by `raise NotImplementedError("<name>: <hint>")`.

    only: a set of exercise names; regions of other exercises keep their solution.
    """
    lines = source.splitlines(keepends=True)
    for region in reversed(find_regions(source, path, default_name)):
        if only is not None and region.name not in only:
            continue
        hint = region.hint or "write this part (see the docstring)"
        stub = f"{region.indent}raise NotImplementedError({f'{region.name}: {hint}'!r})\n"
        lines[region.begin - 1:region.end] = [stub]
    return "".join(lines)


