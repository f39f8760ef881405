"""Languages: which catalogue a Slack locale reads, dates and numbers as each reader writes
them, PROMPTS_FILE overrides per language, DEFAULT_LOCALE and LD_LOCALE, the chart's glyphs."""

from __future__ import annotations

import subprocess
import sys
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core import reporting
from bot.prompts import SHIPPED_LOCALES, PromptsError, load_catalogues, match_locale
from bot.settings import ConfigError, load_settings

ROOT = Path(__file__).parents[2]
CATALOGUES = load_catalogues()
DEC_1, DEC_2 = date(2026, 12, 1), date(2026, 12, 2)


def _plain(text: str) -> str:
    """CLDR's no-break spaces as plain ones, for readable expectations."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


# -- which language ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slack", "language"),
    [
        ("fr-FR", "fr"),
        ("fr-CA", "fr"),
        ("fr_fr", "fr"),
        ("pt-BR", "pt-BR"),
        ("pt-PT", "pt-BR"),  # by the language part: Portuguese reads pt-BR, not English
        ("de-DE", "de"),
        ("es-ES", "es"),
        ("es-LA", "es"),  # Slack's code for Latin American Spanish
        ("ja-JP", "ja"),
        ("en-GB", "en"),
        ("EN-us", "en"),
        ("it-IT", None),
        ("zh-CN", None),
        ("", None),
        (None, None),
        ("12", None),
    ],
)
def test_a_slack_locale_matches_a_shipped_language(slack: str | None, language: str) -> None:
    assert match_locale(slack, None) == language


def test_a_locale_that_is_not_shipped_reads_default_locale() -> None:
    german = load_catalogues(default_locale="de")
    for unknown in ("it-IT", "ko-KR", None, "", "not a locale"):
        prompts = german.for_locale(unknown)
        assert prompts.language == "de"
        assert prompts.format_date(DEC_1) == "Di., 1. Dez."  # German dates too, not Italian
    assert CATALOGUES.for_locale("it-IT").language == "en"
    assert load_catalogues(default_locale="en-GB").for_locale("ko-KR").format_date(DEC_1) == (
        "Tue 1 Dec"
    )


def test_every_language_fills_every_prompt() -> None:
    for language in SHIPPED_LOCALES:
        prompts = CATALOGUES.for_locale(language)
        assert prompts.language == language
        for key in prompts:
            names = {"weekday", "day", "month", "year"}  # all a template may ask for
            values: dict[str, object] = dict.fromkeys(names, "x")
            template = prompts.raw(key)
            for part in template.split("{")[1:]:
                values[part.split("}")[0]] = 7
            assert prompts.text(key, **values).strip(), (language, key)
        if language != "en":  # a translation, not English under another name
            assert prompts.raw("buttons.log_conversation") != CATALOGUES.default.raw(
                "buttons.log_conversation"
            )


# -- dates, times and numbers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "dates", "one_day"),
    [
        ("en-US", "Tue, Dec 1 to Wed, Dec 2", "Tue, Dec 1"),
        ("en-GB", "Tue 1 Dec to Wed 2 Dec", "Tue 1 Dec"),
        ("fr-FR", "du mar. 1 déc. au mer. 2 déc.", "mar. 1 déc."),
        ("de-DE", "Di., 1. Dez. bis Mi., 2. Dez.", "Di., 1. Dez."),
        ("es-ES", "del mar, 1 dic al mié, 2 dic", "mar, 1 dic"),
        ("pt-BR", "ter., 1 de dez. a qua., 2 de dez.", "ter., 1 de dez."),
        ("ja-JP", "12月1日(火)〜12月2日(水)", "12月1日(火)"),
    ],
)
def test_dates_as_each_reader_writes_them(locale: str, dates: str, one_day: str) -> None:
    prompts = CATALOGUES.for_locale(locale)
    assert prompts.format_dates(DEC_1, DEC_2) == dates
    assert prompts.format_dates(DEC_1, DEC_1) == one_day


@pytest.mark.parametrize(
    ("locale", "when", "number", "percent"),
    [
        ("en-US", "Tue, Dec 1, 9:30 AM", "1,234", "42%"),
        ("en-GB", "Tue 1 Dec, 09:30", "1,234", "42%"),
        ("fr-FR", "mar. 1 déc. 09:30", "1 234", "42 %"),
        ("de-DE", "Di., 1. Dez., 09:30", "1.234", "42 %"),
        ("pt-BR", "ter., 1 de dez. 09:30", "1.234", "42%"),
        ("ja-JP", "12月1日(火) 9:30", "1,234", "42%"),
    ],
)
def test_times_numbers_and_percentages(locale: str, when: str, number: str, percent: str) -> None:
    prompts = CATALOGUES.for_locale(locale)
    moment = datetime(2026, 12, 1, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert _plain(prompts.format_when(moment)) == when
    assert _plain(prompts.number(1234)) == number
    assert _plain(prompts.percent(0.42)) == percent
    assert _plain(prompts.text("ephemeral.goal_too_long", length=1234, limit=1000)).count(number)


@pytest.mark.parametrize("locale", ["fr-FR", "de-DE", "es-ES"])
def test_a_percent_sign_never_wraps_away_from_its_number(locale: str) -> None:
    # Slack wraps at a plain space; CLDR puts a no-break one where these languages want one.
    prompts = CATALOGUES.for_locale(locale)
    rate = prompts.text("summary.rate", percent=prompts.percent(0.42), part=21, whole=50)
    assert rate.startswith("42") and " %" not in rate and _plain(rate).startswith("42 %")


# -- PROMPTS_FILE, per language ---------------------------------------------------------------


def _override(tmp_path: Path, text: str) -> str:
    path = tmp_path / "prompts.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_top_level_overrides_english_and_a_language_table_that_language(tmp_path: Path) -> None:
    path = _override(
        tmp_path,
        '[buttons]\nnot_needed = "No thanks"\n\n'
        '[fr.buttons]\nnot_needed = "Non merci"\n\n'
        '["pt-BR".pre_training]\ntitle = "Antes: {training}"\n',
    )
    catalogues = load_catalogues(path)
    assert catalogues.for_locale("en-US").text("buttons.not_needed") == "No thanks"
    assert catalogues.for_locale("fr-FR").text("buttons.not_needed") == "Non merci"
    assert catalogues.for_locale("de-DE").text("buttons.not_needed") == (
        CATALOGUES.for_locale("de").text("buttons.not_needed")  # German keeps its own
    )
    title = catalogues.for_locale("pt-BR").text(
        "pre_training.title", training="Coaching", learner_name="Ana"
    )
    assert title == "Antes: Coaching"


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('[fr.pre_training]\ntitel = "Avant"\n', "fr.pre_training.titel"),
        ('[ja.pre_training]\ntitle = "{boss}"\n', "ja.pre_training.title"),
        ('[it.buttons]\nnot_needed = "No grazie"\n', "'it'"),
        ('fr = "tout en français"\n', "'fr'"),
        ('[de.format]\nmonths = "Jan,Feb"\n', "format.months"),
        ('[es.summary]\ncell = "{percent}%"\n', "es.summary.cell"),
        ('[summary]\nrate = "{percent} % of {whole}"\n', "summary.rate"),
    ],
)
def test_a_bad_override_in_any_language_names_the_file_and_the_key(
    tmp_path: Path, content: str, named: str
) -> None:
    path = _override(tmp_path, content)
    with pytest.raises(PromptsError) as caught:
        load_catalogues(path)
    assert path in str(caught.value) and named in str(caught.value)


def test_a_hand_written_date_format_wins_for_its_language_only(tmp_path: Path) -> None:
    path = _override(
        tmp_path,
        '[de.format]\ndate = "{day}.{month}"\nmonths = "' + ("1,2,3,4,5,6,7,8,9,10,11,12") + '"\n',
    )
    catalogues = load_catalogues(path)
    assert catalogues.for_locale("de-DE").format_date(DEC_1) == "1.12"
    assert catalogues.for_locale("de-AT").format_date(date(2027, 1, 5)) == "5.1"
    assert catalogues.for_locale("fr-FR").format_date(DEC_1) == "mar. 1 déc."  # Babel's


def test_the_start_up_stops_on_a_bad_language_override_naming_it(tmp_path: Path) -> None:
    path = _override(tmp_path, '[ja.buttons]\nnot_neded = "不要"\n')
    env = {"PROMPTS_FILE": path, "SLACK_BOT_TOKEN": "xoxb-test"}
    result = _run("dispatch", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "ja.buttons.not_neded" in result.stderr and "Traceback" not in result.stderr


# -- DEFAULT_LOCALE and LD_LOCALE -------------------------------------------------------------


def test_locales_default_to_english_and_ld_locale_to_default_locale() -> None:
    assert load_settings({}, env_file=None).default_locale == "en"
    assert load_settings({}, env_file=None).ld_locale == "en"
    settings = load_settings({"DEFAULT_LOCALE": "fr_fr"}, env_file=None)
    assert (settings.default_locale, settings.ld_locale) == ("fr-FR", "fr-FR")
    settings = load_settings({"DEFAULT_LOCALE": "de", "LD_LOCALE": "ja"}, env_file=None)
    assert (settings.default_locale, settings.ld_locale) == ("de", "ja")


def test_an_unknown_locale_setting_is_named_with_the_shipped_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"DEFAULT_LOCALE": "it", "LD_LOCALE": "xx-YY"}, env_file=None)
    message = str(caught.value)
    assert "DEFAULT_LOCALE" in message and "'it'" in message
    assert "LD_LOCALE" in message and "'xx-YY'" in message
    assert "en, fr, de, es, pt-BR, ja" in message


@pytest.mark.parametrize("name", ["DEFAULT_LOCALE", "LD_LOCALE"])
def test_an_unknown_locale_setting_exits_2_naming_it(tmp_path: Path, name: str) -> None:
    result = _run("dispatch", env={name: "klingon"}, cwd=tmp_path)
    assert result.returncode == 2
    assert name in result.stderr and "klingon" in result.stderr
    assert "Traceback" not in result.stderr


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- the chart --------------------------------------------------------------------------------


def _chart_spec(locale: str) -> reporting.Json:
    prompts = CATALOGUES.for_locale(locale)
    weeks = [date(2026, 10, 5) + timedelta(weeks=i) for i in range(8)]
    return {
        "title": prompts.text("summary.chart_title", week="2026-W48"),
        "labels": [f"W{41 + i}\n{prompts.format_short_date(d)}" for i, d in enumerate(weeks)],
        "yticks": [[share, prompts.percent(share)] for share in (0, 0.5, 1)],
        "lines": [
            {"key": key, "label": prompts.text(f"summary.{label}"), "values": [0.5] * 8}
            for key, label in (("pre", "chart_pre_training"), ("goals", "chart_goals"))
        ],
        "rates_title": prompts.text("summary.chart_rates"),
        "quadrants_title": prompts.text("summary.chart_quadrants"),
        "quadrants": [
            {"key": q, "name": prompts.text(f"summary.{q}"), "count": 2, "count_label": "2"}
            for q in ("sweet_spot", "uphill", "gift", "waste")
        ],
        "no_quadrants": prompts.text("summary.chart_no_quadrants"),
    }


@pytest.mark.parametrize("locale", ["ja-JP", "fr-FR", "en-US"])
def test_the_chart_has_a_glyph_for_every_character(locale: str) -> None:
    spec = _chart_spec(locale)
    assert reporting.needs_cjk(spec) == (locale == "ja-JP")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = reporting.render_chart(spec)
    assert png.startswith(b"\x89PNG")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing[:3]


def test_the_chart_spec_speaks_the_readers_locale() -> None:
    ja = _chart_spec("ja-JP")
    assert ja["labels"][0] == "W41\n10月5日" and ja["yticks"][1][1] == "50%"
    fr = _chart_spec("fr-FR")
    assert _plain(fr["yticks"][1][1]) == "50 %" and fr["labels"][0].endswith("5 oct.")


# -- the documentation ------------------------------------------------------------------------


def test_the_readme_example_of_a_prompts_file_loads(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Languages", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    catalogues = load_catalogues(_override(tmp_path, example))
    assert catalogues.for_locale("pt-BR").text("buttons.not_needed") == "Agora não"
    for name in ("DEFAULT_LOCALE", "LD_LOCALE", "PROMPTS_FILE"):
        assert f"| `{name}` |" in readme
        assert f"\n{name}=" in (ROOT / ".env.example").read_text(encoding="utf-8")
