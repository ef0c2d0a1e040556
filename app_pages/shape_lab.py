"""Shape lab: sweep one argument against the engine, and a quiz with a running score."""

import streamlit as st

from convviz import catalog, lab
from convviz.viz import lab_figures as lf
from convviz.viz import links, page_fields
from convviz.viz.controls import PLOTLY_CONFIG

S = st.session_state
P = page_fields.SHAPE_LAB
first = links.load("lab", P)
st.title("Shape lab")
notice_box = st.container()
st.markdown(
    "Check the output-shape formulas yourself: sweep one argument and compare the formula's "
    "staircase with the output length of a real forward pass of the engine, or answer "
    "generated questions and see the derivation with the numbers filled in."
)
sweep_tab, quiz_tab = st.tabs(["Sweep", "Quiz"])


@st.cache_resource(max_entries=64, show_spinner=False)
def run_sweep(name, kwargs, spatial, arg, lo, hi):
    return lab.sweep(name, kwargs, spatial, 2, None, arg, range(lo, hi + 1))


with sweep_tab:
    left, right = st.columns([1, 3])
    name = links.widget(P["layer"], left)
    n = links.widget(P["n"], left)
    values = {f.key: links.widget(P[f.key], left)
              for f in lf.fields_for(name)}
    links.fit("lab", "lab.padding", lf.paddings_for(name), f"is no padding of {name}", first)
    if lf.paddings_for(name):
        values["padding"] = left.selectbox("padding", lf.paddings_for(name), key="lab.padding")
    if catalog.BY_NAME[name].family == "transposed":
        values["output_padding"] = left.selectbox(
            "output_padding", ["None", 0, 1, 2, 3], key="lab.output_padding")
    args = lab.SWEEPABLE[name]
    links.fit("lab", "lab.arg", args, f"cannot be swept on {name}", first)
    arg = left.selectbox("Argument to sweep", args, key="lab.arg")
    lo, hi = lf.SWEEP_BOUNDS[arg]
    start, stop = links.widget(P[f"range.{arg}"], left)
    spatial = (n,) * catalog.BY_NAME[name].rank
    try:
        sw = run_sweep(name, lf.lab_kwargs(name, values), spatial, arg, start, stop)
    except ValueError as exc:
        right.error(f"**This sweep is not allowed.** {exc}", icon=":material/block:")
        sw = None
    if sw is not None:
        with right:
            agree, verdict = lf.sweep_verdict(sw)
            (st.success if agree else st.error)(verdict, icon=":material/verified:" if agree
                                                else ":material/error:")
            st.plotly_chart(lf.sweep_figure(sw), key="lab.sweep_chart", config=PLOTLY_CONFIG)
            st.markdown(f"General formula of axis {sw.axis} for "
                        f"`{lab.short_call(name, sw.kwargs)}`, and three points:")
            st.latex(f"\\text{{out}} = {sw.general.latex()}" if sw.general
                     else "\\text{(no formula)}")
            label = "\\text{" + arg.replace("_", "\\_") + "}"
            for sample in sw.samples(3):
                st.latex(f"{label} = {sample['value']}:\\quad {sample['formula'].latex()}")
            st.dataframe([{k: r[k] for k in ("value", "predicted", "actual", "agree", "error")}
                          for r in sw.rows()], hide_index=True, key="lab.points", height=240)

with quiz_tab:
    S.setdefault("lab.counter", 0)
    S.setdefault("lab.score", lab.Score())
    a, b, c = st.columns([1, 2, 1], vertical_alignment="bottom")
    difficulty = links.widget(P["difficulty"], a)
    kind = links.widget(P["kind"], b)

    def new_question():
        S["lab.counter"] += 1
        S.pop("lab.feedback", None)
        S["lab.answer"] = ""

    c.button("New question", key="lab.new", on_click=new_question, icon=":material/casino:")
    q = lab.generate(S["lab.counter"], difficulty, None if kind == "any" else kind)
    ident = (q.seed, q.difficulty, q.kind)
    st.markdown(f"**Question {S['lab.counter'] + 1}.** {q.text}")
    st.code(f"x = keras.Input(shape={catalog.format_shape(q.input_shape[1:])})\n{q.call}",
            language="python")
    with st.form("lab.form"):
        answer = st.text_input("Your answer", key="lab.answer",
                               placeholder="e.g. (None, 8, 8, 4) · (0, 1) (0, 2) · 1792")
        if st.form_submit_button("Check", key="lab.submit", type="primary"):
            feedback = lab.check(q, answer)
            S["lab.score"] = S["lab.score"].answer(ident, feedback.correct)
            S["lab.feedback"] = (ident, feedback)
    got = S.get("lab.feedback")
    if got and got[0] == ident:
        fb = got[1]
        (st.success if fb.correct else st.error)(fb.message)
        st.markdown("**Derivation**")
        for line in q.derivation:
            st.latex(line)
    score = S["lab.score"]
    st.markdown(f"**Score:** {score.correct} / {score.asked} first tries correct "
                f"({score.accuracy:.0%}) · streak {score.streak} · best {score.best_streak}")
links.save({k: p for k, p in P.items() if k in lf.link_keys(name, arg)})
links.notices("lab", notice_box)
