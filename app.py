"""convviz's Streamlit entry point: a router and nothing else.

Run it with ``streamlit run app.py``. Every page lives in ``pages/`` and is listed in
``PAGE_SPECS``; the browser smoke test visits each entry of that list.
"""

from __future__ import annotations

import streamlit as st

#: (script, title, url path, icon) for every page; the first one is the default page.
PAGE_SPECS: tuple[tuple[str, str, str, str], ...] = (
    ("pages/shape_calculator.py", "Shape calculator", "shape-calculator", ":material/straighten:"),
)


def main() -> None:
    st.set_page_config(page_title="convviz", page_icon=":material/grid_on:", layout="wide")
    pages = [
        st.Page(script, title=title, url_path=url_path, icon=icon, default=index == 0)
        for index, (script, title, url_path, icon) in enumerate(PAGE_SPECS)
    ]
    st.navigation(pages).run()


if __name__ == "__main__":
    main()
