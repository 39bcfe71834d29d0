"""The live DAG tree: groups -> DAGs -> recent runs -> task instances.

Updated in place from `views.tree_nodes`: labels change, new runs appear,
and what the user expanded stays expanded, also through a filter that hid
it for a while. Children are only built for expanded nodes, so 50 DAGs with
their runs cost a few dozen tree nodes.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from flowctl.tui.views import Node
from flowctl.tui.widgets.lines import to_text
from flowctl.tui.widgets.vim import VimTree


class DagTree(VimTree, Tree[Node]):
    BINDINGS = [
        Binding("right", "expand", "Expand", show=False),
        Binding("left", "collapse", "Collapse", show=False),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__("DAGs", **kwargs)  # type: ignore[arg-type]
        self.show_root = False
        self.auto_expand = False
        self.guide_depth = 2
        self._first = True
        #: keys of expanded nodes a filter hides: expanded again when they are back
        self._hidden_expanded: set[str] = set()
        #: builds a node's children when it is expanded (set by the screen)
        self.children_for: Callable[[Node], tuple[Node, ...]] = lambda node: node.children

    @property
    def selected(self) -> Node | None:
        node = self.cursor_node
        return node.data if node is not None else None

    def expanded_keys(self) -> set[str]:
        keys: set[str] = set()
        stack = list(self.root.children)
        while stack:
            node = stack.pop()
            if node.is_expanded and node.data is not None:
                keys.add(node.data.key)
                stack.extend(node.children)
        return keys

    def shown_keys(self) -> set[str]:
        return {node.data.key for node in self._walk() if node.data is not None}

    def _walk(self) -> list[TreeNode[Node]]:
        found: list[TreeNode[Node]] = []
        stack = list(self.root.children)
        while stack:
            node = stack.pop()
            found.append(node)
            stack.extend(node.children)
        return found

    def select_key(self, key: str) -> None:
        """Put the cursor back on the node of `key`, if it is shown (once the
        tree has laid out the nodes just added: a node has no line before)."""
        node = next((n for n in self._walk() if n.data is not None and n.data.key == key), None)
        if node is not None:
            self.call_after_refresh(self.move_cursor, node)

    def show(self, nodes: list[Node]) -> None:
        self._hidden_expanded = (self._hidden_expanded - self.shown_keys()) | self.expanded_keys()
        self._sync(self.root, nodes, expand_new=self._first)
        if self._first and nodes:
            self.cursor_line = 0
        self._first = False

    def _sync(self, parent: TreeNode[Node], nodes: list[Node] | tuple[Node, ...], expand_new: bool = False) -> None:
        existing = {child.data.key: child for child in parent.children if child.data is not None}
        wanted = [n.key for n in nodes]
        kept = [c.data.key for c in parent.children if c.data is not None and c.data.key in set(wanted)]
        if kept != [k for k in wanted if k in existing]:  # reordered: rebuild this level
            parent.remove_children()
            existing = {}
        for child in list(parent.children):
            if child.data is None or child.data.key not in set(wanted):
                child.remove()
        for index, model in enumerate(nodes):
            node = existing.get(model.key)
            if node is None:
                node = parent.add(to_text(model.label), data=model, before=index if index < len(parent.children) else None,
                                  allow_expand=model.expandable,
                                  expand=(expand_new and model.kind == "group")
                                  or (model.expandable and model.key in self._hidden_expanded))
            else:
                if node.data is None or node.data.label != model.label:
                    node.set_label(to_text(model.label))
                node.data = model
                node.allow_expand = model.expandable
            if node.is_expanded:
                kids = model.children if model.children or not model.expandable else self.children_for(model)
                self._sync(node, kids)
            elif node.children:
                node.remove_children()

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Node]) -> None:
        node = event.node
        if node.data is not None:
            self._sync(node, node.data.children or self.children_for(node.data))

    def action_expand(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand and not node.is_expanded:
            node.expand()

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)
