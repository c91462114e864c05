"""Redaction before the model: each kind of value masked, ordinary numbers and code left exactly as written."""

from __future__ import annotations

import re
import time
from pathlib import Path

import phonenumbers
import pytest
import stdnum
from phonenumbers import PhoneMetadata

from bot.answer import redaction
from bot.answer.asking import model_request
from bot.answer.redaction import Redactor, private_names
from bot.model.messages import ChatMessage
from bot.settings import Settings
from tests.settings_env import REQUIRED

DEFAULT = Redactor()
# 4111 1111 1111 1111 in full-width digits (U+FF10 onwards), as East Asian keyboards may type it.
FULL_WIDTH_CARD = "4111 1111 1111 1111".translate({ord(str(d)): 0xFF10 + d for d in range(10)})


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("card 4111 1111 1111 1111.", "card [card number]."),
        ("card 4111-1111-1111-1111", "card [card number]"),
        ("amex 378282246310005", "amex [card number]"),
        ("full-width " + FULL_WIDTH_CARD, "full-width [card number]"),
        ("write to jane.doe+news@mail.example.co.uk!", "write to [email]!"),
        ("mailto:jane@example.com: and jane@example.com:", "mailto:[email]: and [email]:"),
        ("call +1 415 555 2671 or (415) 555-2671", "call [phone number] or [phone number]"),
        ("call +33 6 12 34 56 78", "call [phone number]"),
        ("pay to GB82WEST12345698765432 today", "pay to [IBAN] today"),
        ("pay to DE89 3704 0044 0532 0130 00 and done", "pay to [IBAN] and done"),
        ("pay to DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000 and done", "pay to [IBAN] and done"),
        ("SLACK_BOT_TOKEN=xoxb-123456789012-abcdefABCDEF", "SLACK_BOT_TOKEN=[Slack token]"),
        ("hook https://hooks.slack.com/services/T000/B000/XXXXXXXX", "hook [Slack webhook]"),
        ("id AKIAIOSFODNN7EXAMPLE", "id [AWS key]"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = [AWS secret key]",
        ),
        ("token ghp_" + "x" * 36, "token [GitHub token]"),
        ("token github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "token [GitHub token]"),
        (
            "-H 'Authorization: Bearer sk-live.abc_DEF-123'",
            "-H 'Authorization: Bearer [token]'",
        ),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "jwt [JWT]"),
    ],
)
def test_each_kind_is_masked_with_its_label(written: str, sent: str) -> None:
    assert DEFAULT.redact(written) == sent


@pytest.mark.parametrize(
    "ordinary",
    [
        "card 4111 1111 1111 1112 fails its check digit",
        "slack ts 1700000000.000001 and thread 1732579200.123456",
        "version 1.2.3, v2.10.0, 10.0.19045.3693, ip 192.168.1.1, port 8080, pid 12345",
        "at 2024-01-15 10:30:00, 2026-11-25T23:50:47Z, 12:30-13:45, in 2026",
        "epoch 1732579200000 ms, snowflake 1234567890123456789, pi 3.14159265358979",
        "uuid 123e4567-e89b-12d3-a456-426614174000, sha 4b8b1d1, amount 1,234,567.89 EUR",
        'headers = {"Authorization": f"Bearer {token}"}',
        "ISO code DE89 alone, and word AB12CD34",
    ],
)
def test_ordinary_numbers_and_code_stay_as_written(ordinary: str) -> None:
    assert DEFAULT.redact(ordinary) == ordinary


def test_code_blocks_keep_their_fences_and_indentation() -> None:
    code = (
        "```python\n"
        "def connect():\n"
        '    key = """-----BEGIN RSA PRIVATE KEY-----\n'
        "    MIIEowIBAAKCAQEAv2\n"
        "    abcd==\n"
        '    -----END RSA PRIVATE KEY-----"""\n'
        '    return Client(token="xoxb-123456789012-abcdefABCDEF", mail="ops@example.com")\n'
        "```\n"
    )
    assert DEFAULT.redact(code) == (
        "```python\n"
        "def connect():\n"
        '    key = """[private key]"""\n'
        '    return Client(token="[Slack token]", mail="[email]")\n'
        "```\n"
    )


def test_a_private_key_cut_short_is_masked_up_to_the_fence() -> None:
    pasted = "```\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAA\n```\nwhat is this?"
    assert DEFAULT.redact(pasted) == "```\n[private key]\n```\nwhat is this?"


def test_strict_masks_named_people_and_the_operators_patterns() -> None:
    strict = Redactor("strict", ("ACME-\\d+",))
    text = "Bob Smith said ACME-1234 to Alice; Bobby agrees, @Bob too"
    assert strict.redact(text, {"Bob Smith", "Bob"}) == "[person] said [redacted] to Alice; Bobby agrees, @[person] too"
    assert DEFAULT.redact(text, {"Bob"}) == text


def test_private_names_are_those_mentioned_who_do_not_speak() -> None:
    names = {"UALICE": "Alice", "UBOB": "Bob", "UCAROL": "Carol"}
    assert private_names(names, {"UALICE", "UCAROL"}) == {"Bob"}


def test_every_model_request_is_redacted_whatever_its_messages_hold() -> None:
    """A file's contents or a followed link arrive as message text: the one choke point masks them too."""
    settings = Settings.from_env(REQUIRED)
    file_text = "Alice: [file notes.txt]\nowner: jane@example.com\ncard: 5555 5555 5555 4444"
    link = "[link https://example.com]\nCall +1 415 555 2671"
    request = model_request(
        [ChatMessage("system", "Be brief."), ChatMessage("user", file_text), ChatMessage("user", link)],
        settings,
        10_000,
    )
    assert request.messages[-1].content == (
        "Alice: [file notes.txt]\nowner: [email]\ncard: [card number]\n\n"
        "[link https://example.com]\nCall [phone number]"
    )
    off = Settings.from_env({**REQUIRED, "REDACT": "off"})
    unredacted = model_request([ChatMessage("system", "s"), ChatMessage("user", file_text)], off, 10_000)
    assert unredacted.messages[-1].content == file_text


def test_redaction_settings_are_checked_at_start() -> None:
    from bot.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({**REQUIRED, "REDACT": "strict", "REDACT_PATTERNS": "ok-[0-9]+\n(unclosed\n.*"})
    problems = "\n".join(caught.value.problems)
    assert "REDACT_PATTERNS: '(unclosed' is not a valid regular expression" in problems
    assert "REDACT_PATTERNS: '.*' matches empty text" in problems
    with pytest.raises(ConfigurationError, match="only used with REDACT=strict"):
        Settings.from_env({**REQUIRED, "REDACT_PATTERNS": "ACME-[0-9]+"})
    with pytest.raises(ConfigurationError, match="REDACT must be one of OFF, DEFAULT, STRICT"):
        Settings.from_env({**REQUIRED, "REDACT": "maybe"})


@pytest.mark.parametrize("separator", [" ", "-", "\u00a0", "\u202f", "\u2009", "\u2007", "."])
def test_a_card_number_is_masked_whatever_separates_its_groups(separator: str) -> None:
    """No-break, narrow and thin spaces and dots are what PDFs and banking apps put between the groups."""
    visa = separator.join(["4111", "1111", "1111", "1111"])
    amex = separator.join(["3782", "822463", "10005"])
    assert DEFAULT.redact(f"card {visa}, or {amex}.") == "card [card number], or [card number]."


def test_dotted_digits_are_a_card_only_in_a_cards_grouping() -> None:
    """Dots also write versions and decimals: 4111111.111111111 passes Luhn but is not how a card is written."""
    assert DEFAULT.redact("build 4111111.111111111 and 4111.1111.1111-1111") == (
        "build 4111111.111111111 and 4111.1111.1111-1111"
    )


@pytest.mark.parametrize(
    "phone",
    [
        "+1 415 555 0100",
        "(415) 555-0100",
        "415-555-0100",
        "415.555.0100",
        "415 555 0100",
        "+44 20 7946 0958",
        "+14155550100",
        "415\u00a0555\u00a00100",
    ],
)
def test_a_phone_number_in_a_common_form_is_masked(phone: str) -> None:
    assert DEFAULT.redact(f"reach Jane on {phone} today") == "reach Jane on [phone number] today"


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("call me at 4155550100", "call me at [phone number]"),
        ("Phone: 4155550100", "Phone: [phone number]"),
        ("tel. 14155550100 or mobile #4155550101", "tel. [phone number] or mobile #[phone number]"),
        ("tel:+14155550100, text me on 4155550101", "tel:[phone number], text me on [phone number]"),
        ("the text 4155550100 was sent", "the text 4155550100 was sent"),
        (
            '{"order": "4155550100", "phone": "4155550101", "mobilePhone": 4155550102}',
            '{"order": "4155550100", "phone": "[phone number]", "mobilePhone": [phone number]}',
        ),
        ("order_id=4155550100 phone_number=4155550101", "order_id=4155550100 phone_number=[phone number]"),
    ],
)
def test_a_bare_run_of_digits_is_a_phone_number_when_the_words_before_it_say_so(written: str, sent: str) -> None:
    assert DEFAULT.redact(written) == sent


@pytest.mark.parametrize(
    "ordinary",
    [
        "order 4155550100, build 2125551234, ts 1732598400, id 14155550100",
        "ERROR 2125551234 request_id=4155550100 retry",
        "order 4155550100-abcd and build 415-555-0100-rc1",
        "ip 212.55.50.100, 212.55.50.100:8080 and 10.212.55.50.100",
        "remote git@github.com:owner/repo.git, git@gitlab.example.com:group/sub/repo.git",
        "clone ssh://git@github.com/owner/repo.git or https://deploy@example.com/repo",
        "uuid 41555501-0012-4155-5501-004155550100, sha 3f2a4155550100ab4155550100abcdef01234567",
        "on 26.11.2024 14:15:55, 12/05/2024, 2024/11/26 1415, 20241126, at 1732598400.123",
    ],
)
def test_ids_timestamps_addresses_and_remotes_in_code_and_logs_stay_as_written(ordinary: str) -> None:
    assert DEFAULT.redact(ordinary) == ordinary


def test_a_password_in_a_url_is_masked_and_the_host_kept() -> None:
    assert DEFAULT.redact("db at postgres://app:s3cr3t-pw@db.example.com:5432/main") == (
        "db at postgres://app:[password]@db.example.com:5432/main"
    )


def test_code_is_masked_by_the_same_rules_as_prose_and_keeps_its_shape() -> None:
    """People paste customer records in code blocks: values are masked there too; ids, remotes and markers stay."""
    pasted = (
        "see `jane@example.com` and `git@github.com:acme/shop.git`:\n"
        "```\n"
        "2026-11-26T03:00:00Z order=4155550100 ts=1732598400 ip=212.55.50.100\n"
        "    customer: jane@example.com\tcard: 4111\u00a01111\u00a01111\u00a01111\n"
        "    phone: +1 415 555 0100\n"
        "```"
    )
    assert DEFAULT.redact(pasted) == (
        "see `[email]` and `git@github.com:acme/shop.git`:\n"
        "```\n"
        "2026-11-26T03:00:00Z order=4155550100 ts=1732598400 ip=212.55.50.100\n"
        "    customer: [email]\tcard: [card number]\n"
        "    phone: [phone number]\n"
        "```"
    )


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("_call me at 415-555-0100_", "_call me at [phone number]_"),
        ("_415-555-0100_ or _4111 1111 1111 1111_", "_[phone number]_ or _[card number]_"),
        ("Tel.: 4155550100, Phone #: 4155550101", "Tel.: [phone number], Phone #: [phone number]"),
        ("phone\uff1a4155550100", "phone\uff1a[phone number]"),
        ("my phone is 4155550100, mobile - 4155550101", "my phone is [phone number], mobile - [phone number]"),
    ],
)
def test_a_phone_number_in_slack_italics_or_after_a_cue_with_more_punctuation_is_masked(
    written: str, sent: str
) -> None:
    """Slack's `_italics_`, a signature's "Tel.:", a CJK keyboard's full-width colon: all were masked before
    bare runs of digits needed a cue, and must still be."""
    assert DEFAULT.redact(written) == sent


@pytest.mark.parametrize(
    "text",
    ["a." * 50_000 + "://host and @x", "mail a@" + "b." * 50_000 + "c"],
)
def test_a_long_dotted_run_is_redacted_in_one_pass(text: str) -> None:
    """A URL scheme was looked for from every letter of a dotted run (a minified file, a long host): 100,000
    characters took half a minute, quadratic in the run's length. (A wide bound: it takes a few ms.)"""
    started = time.perf_counter()
    DEFAULT.redact(text)
    assert time.perf_counter() - started < 5


# Inputs built to make a backtracking engine try every start against the rest of the text: long runs
# of each pattern's prefix, and of what its quantified parts accept.
ADVERSARIAL = {
    "JWT prefixes": "eyJ-" * 37_500,
    "JWT halves": "eyJabcde.eyJ" * 12_500,
    "BEGIN lines": "-----BEGIN\n" * 2_000,
    "key lines without END": "-----BEGIN PRIVATE KEY-----!\n" * 2_000,
    "key names without END": ("-----BEGIN " + "A " * 30 + "PRIVATE KEY-----\n!") * 1_000,
    "PGP blocks without END": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n!" * 2_000,
    "Slack token prefixes": "xoxb-" * 30_000,
    "API key prefixes": "sk-" * 50_000,
    "bearer words": "bearer " * 21_000,
    "basic words": "basic " * 25_000,
    "AWS secret names": "aws_secret_access_key=" * 6_800,
    ".env keys": "PASSWORD=\n" * 15_000,
    "dotted run with @": "a." * 75_000 + "@x",
    "dotted address": "mail a@" + "b." * 75_000 + "c",
    "URL schemes": "a://b:" * 25_000,
    "digits and separators": "1 2-3.4 " * 5_000,
    "card groups": "4111 " * 8_000,
    "IBAN groups": "DE89 " * 30_000,
    "dotted digits": "1." * 75_000,
    "phone cues": "phone: " * 21_000,
    "names": "Bob Smithx " * 13_000,
    "operator pattern": "ACME-" * 30_000,
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_no_input_makes_redaction_take_long(text: str) -> None:
    """A pasted file of a pattern's prefix (150 KB of `eyJ-`, 2,000 `-----BEGIN` lines) took seconds on the
    event loop, holding the GIL: every pattern now runs in time linear in the text. (A wide bound: each
    takes milliseconds to a few tenths of a second, the phone number search most.)"""
    strict = Redactor("strict", ("ACME-[0-9]+",))
    started = time.perf_counter()
    strict.redact(text, {"Bob Smith", "Bob"})
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("sk-proj-" + "Ab1" * 16, "[API key]"),
        ("sk-ant-api03-" + "xY9_" * 23 + "AA", "[API key]"),
        ("sk-" + "a1B2" * 12, "[API key]"),
        ("key=AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "key=[Google API key]"),
        ("glpat-AbCdEf0123456789_xYz", "[GitLab token]"),
        ("STRIPE=sk_live_51AbCdEf0123456789xyz", "STRIPE=[Stripe key]"),
        ("rk_test_51AbCdEf0123456789xyz", "[Stripe key]"),
        ("//registry.npmjs.org/:_authToken=npm_" + "a1B2c3" * 6, "//registry.npmjs.org/:_authToken=[npm token]"),
        ("Authorization: Basic dXNlcjpodW50ZXIy", "Authorization: Basic [credentials]"),
        ("curl -H 'authorization: basic YWRtaW46czNjcjN0IQ=='", "curl -H 'authorization: basic [credentials]'"),
    ],
)
def test_api_keys_of_common_services_are_masked(written: str, sent: str) -> None:
    assert DEFAULT.redact(written) == sent


def test_a_pasted_env_files_secrets_are_masked_and_its_settings_kept() -> None:
    env = (
        "DATABASE_URL=postgres://localhost/app\n"
        "DB_PASSWORD=hunter2\n"
        'export API_SECRET="s3cr3t value"\n'
        "GITHUB_TOKEN='abc123'\n"
        "STRIPE_SECRET_KEY=whatever # prod\n"
        "SLACK_BOT_TOKEN=xoxb-123456789012-abcdefABCDEF\n"
        "MODEL_MAX_TOKENS=4096\n"
        "PASSWORD_MIN_LENGTH=12\n"
    )
    assert DEFAULT.redact(env) == (
        "DATABASE_URL=postgres://localhost/app\n"
        "DB_PASSWORD=[secret]\n"
        "export API_SECRET=[secret]\n"
        "GITHUB_TOKEN=[secret]\n"
        "STRIPE_SECRET_KEY=[secret] # prod\n"
        "SLACK_BOT_TOKEN=[Slack token]\n"
        "MODEL_MAX_TOKENS=4096\n"
        "PASSWORD_MIN_LENGTH=12\n"
    )


def test_an_exported_pgp_private_key_is_masked() -> None:
    exported = (
        "here it is:\n-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGXabc0BCADx+/9kZ\n=Qm9Z\n"
        "-----END PGP PRIVATE KEY BLOCK-----\nthanks"
    )
    assert DEFAULT.redact(exported) == "here it is:\n[private key]\nthanks"
    assert DEFAULT.redact("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGXabc0BCADx\n") == "[private key]\n"


@pytest.mark.parametrize(
    "code",
    [
        "get_user(4155550100)",
        "ids = [4155550100, 6505550123]",
        "basic understanding, basic settings",
        "the sk-button-primary class and sk-learn",
        "AIza is a prefix",
    ],
)
def test_ids_in_calls_and_lists_and_ordinary_words_stay_as_written(code: str) -> None:
    """An id right after `(` or `[` was taken for a phone number and its bracket eaten."""
    assert DEFAULT.redact(code) == code


def test_a_phone_number_in_brackets_keeps_them() -> None:
    assert DEFAULT.redact("call(+1 415 555 0100) or [415-555-0100]") == "call([phone number]) or [[phone number]]"


def test_text_with_half_an_emoji_is_redacted() -> None:
    """A lone surrogate can't be UTF-8, which RE2 reads: it becomes U+FFFD and the rest is masked as ever."""
    assert DEFAULT.redact("mail \ud83d jane@example.com") == "mail \ufffd [email]"


def test_operator_patterns_are_refused_at_start_unless_re2_runs_them_and_they_never_match_empty_text() -> None:
    from bot.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({**REQUIRED, "REDACT": "strict", "REDACT_PATTERNS": "(?<=id )\\d+\nACME-\\d*|x?\n\\b"})
    problems = "\n".join(caught.value.problems)
    assert "REDACT_PATTERNS: '(?<=id )\\\\d+' is not a valid regular expression (invalid perl operator" in problems
    assert "no lookbehind, lookahead or backreferences" in problems
    assert "REDACT_PATTERNS: 'ACME-\\\\d*|x?' matches empty text" in problems
    assert "REDACT_PATTERNS: '\\\\b' matches empty text" in problems
    strict = Settings.from_env({**REQUIRED, "REDACT": "strict", "REDACT_PATTERNS": "ACME-\\d+"})
    assert Redactor("strict", strict.redact_patterns).redact("see ACME-42") == "see [redacted]"


def test_operator_patterns_read_digits_words_and_spaces_as_python_does() -> None:
    """An operator writes Python's \\d, \\w and \\s (Unicode); RE2 alone reads them as ASCII and would leave
    `EMP-١٢٣` whole and the `é` of `proj-café` unmasked. Escaped backslashes and classes inside [...] keep."""
    redactor = Redactor("strict", (r"EMP-\d+", r"proj-\w+", r"key\s\S+", r"[\d\s]{3}-x", r"a\\d", r"[^\w]zz"))
    assert redactor.redact("EMP-١٢٣ and EMP-42") == "[redacted] and [redacted]"
    assert redactor.redact("see proj-café now") == "see [redacted] now"
    assert redactor.redact("key\u00a0hunter2 ok") == "[redacted] ok"
    assert redactor.redact("1\u20032-x") == "[redacted]"
    assert redactor.redact("a\\d ad") == "[redacted] ad"
    assert redactor.redact("ézz !zz") == "ézz [redacted]"


def test_the_fewest_digits_each_number_check_needs_are_those_of_the_registries() -> None:
    """Text with fewer digits skips a check: the counts must be what stdnum's and libphonenumber's data say."""
    iban_registry = (Path(stdnum.__file__).parent / "iban.dat").read_text().splitlines()
    digits_in_bban = [
        sum(int(count) for count, kind in re.findall(r"(\d+)!([nac])", line.split('bban="')[1]) if kind == "n")
        for line in iban_registry
        if 'bban="' in line
    ]
    assert 2 + min(digits_in_bban) == redaction.IBAN_DIGITS
    regions = [PhoneMetadata.metadata_for_region(region) for region in phonenumbers.SUPPORTED_REGIONS]
    assert (
        min(
            min(length for length in region.general_desc.possible_length if length > 0) + len(str(region.country_code))
            for region in regions
            if region is not None and region.general_desc.possible_length
        )
        == redaction.PHONE_DIGITS
    )


def test_a_secrets_name_in_other_cases_and_scripts_is_found_as_re2_folds_it() -> None:
    """RE2's (?i) matches the long s (U+017F) for `s`: the quick check for a name looks in case-folded text."""
    name = "AWS_\u017fECRET_ACCESS_KEY="
    assert Redactor().redact(name + "A" * 40) == name + "[AWS secret key]"
    assert Redactor().redact("Authorization: BEARER abcdefgh12345678") == "Authorization: BEARER [token]"


def test_digits_of_other_scripts_count_for_the_number_checks() -> None:
    arabic_indic = "".join(chr(0x0660 + int(digit)) for digit in "4155550100")
    assert Redactor().redact("call me at " + arabic_indic) == "call me at [phone number]"
