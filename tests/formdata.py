"""Read a rendered HTML form back into POST data, as a browser would submit it."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormParser(HTMLParser):
    def __init__(self, form_id: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._select_multiple = False
        self._select_seen: list[str] = []
        self._first_option: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []
        self._option_value: str | None = None
        self._option_selected = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            if self.form_id is None or a.get("id") == self.form_id:
                self.inside = True
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in {"submit", "button", "image", "file"}:
                return
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self.data.setdefault(name, []).append(a.get("value", "on"))
                return
            self.data.setdefault(name, []).append(a.get("value", ""))
        elif tag == "select" and name:
            self._select = name
            self._select_multiple = "multiple" in a
            self._select_seen = []
            self._first_option = None
        elif tag == "option" and self._select:
            self._option_value = a.get("value", "")
            if self._first_option is None:
                self._first_option = self._option_value
            if "selected" in a:
                self._select_seen.append(self._option_value)
        elif tag == "textarea" and name:
            self._textarea = name
            self._text = []

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self._select:
            chosen = self._select_seen
            if not chosen and not self._select_multiple and self._first_option is not None:
                chosen = [self._first_option]
            if chosen:
                self.data.setdefault(self._select, []).extend(chosen)
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.data.setdefault(self._textarea, []).append("".join(self._text).lstrip("\n"))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)


def form_data(html: str, form_id: str | None = None) -> dict[str, str | list[str]]:
    parser = _FormParser(form_id)
    parser.feed(html)
    return {k: v[0] if len(v) == 1 else v for k, v in parser.data.items()}
