"""Errors of kernel-design extraction: each names the tree, the revision
and, where one is at fault, the file or function."""

from __future__ import annotations

from ..exceptions import BuildError, ParameterError

__all__ = ["KernelError", "NotAGitTreeError", "UnknownRevError", "KernelFileMissingError",
           "KernelFunctionMissingError", "PatchApplyError", "UnknownGenerationError",
           "KernelCompileError"]


class KernelError(ParameterError):
    """A kernel tree, revision or patch that cannot become a design.

    Attributes
    ----------
    tree, rev : str
        The tree and revision asked for.
    what : str or None
        The file, function or patch at fault.
    """

    def __init__(self, param: str, value: object, allowed: str, *, tree: str,
                 rev: str, what: str | None = None):
        self.tree, self.rev, self.what = str(tree), str(rev), what
        super().__init__(param, value, f"{allowed} (tree {tree}, rev {rev})")


class NotAGitTreeError(KernelError):
    def __init__(self, tree, rev, reason: str):
        super().__init__("tree", str(tree), f"a git work tree or repository; {reason}",
                         tree=tree, rev=rev)


class UnknownRevError(KernelError):
    def __init__(self, tree, rev):
        super().__init__("rev", rev, "a commit, tag or branch the tree has",
                         tree=tree, rev=rev)


class KernelFileMissingError(KernelError):
    def __init__(self, tree, rev, paths):
        super().__init__("rev", rev, "a revision with " + " or ".join(paths),
                         tree=tree, rev=rev, what=paths[0])


class KernelFunctionMissingError(KernelError):
    def __init__(self, tree, rev, function: str, generation: str, path: str):
        self.function = function
        super().__init__("rev", rev, f"a revision whose {path} defines {function}() "
                         f"(needed by API generation {generation!r})",
                         tree=tree, rev=rev, what=function)


class PatchApplyError(KernelError):
    def __init__(self, tree, rev, patch: str, output: str):
        self.output = output
        super().__init__("patch", patch, "a patch that applies with "
                         f"'git am' (mbox) or 'git apply' (diff); git said: "
                         f"{output.strip()[-600:]}", tree=tree, rev=rev, what=patch)


class UnknownGenerationError(KernelError):
    def __init__(self, tree, rev, found: str, known):
        super().__init__("rev", rev, f"a page_frag API generation the shim knows "
                         f"({', '.join(known)}); found {found}", tree=tree, rev=rev)


class KernelCompileError(KernelError, BuildError):
    def __init__(self, tree, rev, function: str | None, output: str):
        self.function, self.output = function, output
        where = f" in {function}()" if function else ""
        KernelError.__init__(self, "rev", rev, f"code that compiles against the shim; "
                             f"the compiler failed{where}:\n{output.strip()[-1500:]}",
                             tree=tree, rev=rev, what=function)
