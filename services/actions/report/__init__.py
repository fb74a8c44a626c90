"""The annual report to the Government (action 20): its data (``model``), how it is folded from
the history (``assembly``), its French and Dutch texts (``texts``) and its files (``html_render``,
``style``, ``files``). Pure: no I/O; WeasyPrint is imported only when a PDF is rendered."""
