from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import requests
from ansible_collections.scalelab.capi.plugins.module_utils.kube import retry
from ansible_collections.scalelab.capi.plugins.module_utils.kube.retry import RetryPolicy, call_with_retry


@dataclass
class Resp:
    status_code: int
    headers: dict = field(default_factory=dict)


def scripted(*outcomes):
    """fn() returning (or raising) the outcomes in order; .calls counts the calls."""
    items = iter(outcomes)

    def fn():
        fn.calls += 1
        item = next(items)
        if isinstance(item, BaseException):
            raise item
        return item

    fn.calls = 0
    return fn


def policy(**kw) -> tuple[RetryPolicy, list[float]]:
    slept: list[float] = []
    return RetryPolicy(sleep=slept.append, **kw), slept


def within_backoff(delay: float, base: float, attempt: int, cap: float = 10.0) -> bool:
    full = min(cap, base * 2**attempt)
    return full * 0.5 <= delay <= full


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        ("0", 0.0),
        ("0.5", 0.5),
        ("120", 120.0),
        (" 2 ", 2.0),
        ("-1", 0.0),
        ("-0.5", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("Wed, 21 Oct", None),
        ("soon", None),
        ("1s", None),
    ],
)
def test_retry_after(value, expected):
    got = retry.retry_after(value)
    if expected is None:
        assert got is None
    else:
        assert got == expected
        assert isinstance(got, float)


@pytest.mark.parametrize(
    ("base", "cap", "attempt", "rand", "expected"),
    [
        (0.2, 10.0, 0, 0.0, 0.1),
        (0.2, 10.0, 0, 1.0, 0.2),
        (0.2, 10.0, 3, 0.0, 0.8),
        (0.2, 10.0, 3, 0.5, 1.2),
        (0.2, 10.0, 6, 1.0, 10.0),  # 12.8 capped at 10
        (0.2, 10.0, 20, 0.0, 5.0),
        (1.0, 2.0, 1, 1.0, 2.0),
        (1.0, 2.0, 2, 0.0, 1.0),
    ],
)
def test_backoff(monkeypatch, base, cap, attempt, rand, expected):
    monkeypatch.setattr(retry.random, "random", lambda: rand)
    assert RetryPolicy(base=base, cap=cap).backoff(attempt) == pytest.approx(expected)


def test_429_honours_retry_after():
    final = Resp(201)
    p, slept = policy()
    fn = scripted(Resp(429, {"Retry-After": "2"}), final)
    assert call_with_retry(fn, p) is final
    assert len(slept) == 1 and 2.0 <= slept[0] <= 2.5  # the server's wait, jittered upwards
    assert p.counts == {"429": 1}
    assert fn.calls == 2


@pytest.mark.parametrize(
    ("header", "exact"),
    [
        ({"Retry-After": "0"}, 0.0),  # zero is a valid answer: retry at once
        ({"Retry-After": "-3"}, 0.0),
        ({}, None),  # no header: exponential backoff
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"Retry-After": ""}, None),
    ],
)
def test_429_without_usable_retry_after(header, exact):
    p, slept = policy(base=0.2)
    call_with_retry(scripted(Resp(429, header), Resp(200)), p)
    assert len(slept) == 1
    if exact is None:
        assert within_backoff(slept[0], 0.2, 0)
    else:
        assert slept == [exact]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_backs_off_exponentially(status):
    final = Resp(200)
    p, slept = policy(base=0.2)
    fn = scripted(Resp(status), Resp(status), final)
    assert call_with_retry(fn, p) is final
    assert len(slept) == 2
    assert within_backoff(slept[0], 0.2, 0), slept
    assert within_backoff(slept[1], 0.2, 1), slept
    assert p.counts == {str(status): 2}


def test_5xx_ignores_retry_after():
    p, slept = policy(base=0.2)
    call_with_retry(scripted(Resp(503, {"Retry-After": "30"}), Resp(200)), p)
    assert len(slept) == 1
    assert within_backoff(slept[0], 0.2, 0)


def test_backoff_grows_to_cap():
    p, slept = policy(base=1.0, cap=2.0)
    call_with_retry(scripted(*[Resp(503)] * 5, Resp(200)), p)
    assert [within_backoff(s, 1.0, i, cap=2.0) for i, s in enumerate(slept)] == [True] * 5
    assert all(1.0 <= s <= 2.0 for s in slept[1:])


def test_mixed_retryable_statuses_are_counted_apart():
    p, slept = policy(base=0.1)
    final = Resp(200)
    fn = scripted(
        Resp(500), Resp(429, {"Retry-After": "1"}), Resp(502), Resp(504), Resp(429, {"Retry-After": "3"}), final
    )
    assert call_with_retry(fn, p) is final
    assert p.counts == {"500": 1, "429": 2, "502": 1, "504": 1}
    assert 1.0 <= slept[1] <= 1.25
    assert 3.0 <= slept[4] <= 3.75
    # the attempt number keeps growing across Retry-After waits
    assert within_backoff(slept[0], 0.1, 0)
    assert within_backoff(slept[2], 0.1, 2)
    assert within_backoff(slept[3], 0.1, 3)


@pytest.mark.parametrize("status", [200, 201, 204, 301, 400, 401, 403, 404, 409, 422, 501, 505])
def test_other_statuses_return_at_once(status):
    resp = Resp(status, {"Retry-After": "1"})
    p, slept = policy()
    fn = scripted(resp)
    assert call_with_retry(fn, p) is resp
    assert slept == []
    assert p.counts == {}
    assert fn.calls == 1


def test_object_without_status_code_is_a_success():
    marker = object()
    p, slept = policy()
    assert call_with_retry(lambda: marker, p) is marker
    assert (slept, p.counts) == ([], {})


def test_deadline_returns_last_429_instead_of_sleeping_past_it():
    last = Resp(429, {"Retry-After": "5"})
    p, slept = policy(deadline=1)
    fn = scripted(last, Resp(200))
    assert call_with_retry(fn, p) is last
    assert slept == []
    assert p.counts == {"429": 1}
    assert fn.calls == 1


def test_deadline_lets_short_waits_through_then_stops():
    last = Resp(429, {"Retry-After": "5"})
    p, slept = policy(deadline=1)
    fn = scripted(Resp(429, {"Retry-After": "0.5"}), last, Resp(200))
    assert call_with_retry(fn, p) is last
    assert len(slept) == 1 and 0.5 <= slept[0] <= 0.625  # the fake sleep takes no time: only the 5 s wait overshoots
    assert p.counts == {"429": 2}


def test_zero_deadline_returns_first_5xx():
    first = Resp(503)
    p, slept = policy(deadline=0)
    assert call_with_retry(scripted(first, Resp(200)), p) is first
    assert (slept, p.counts) == ([], {"503": 1})


@pytest.mark.parametrize(
    "errors",
    [
        [requests.ConnectionError("refused")],
        [requests.ConnectionError("refused"), requests.ConnectionError("reset")],
        [requests.Timeout("read timed out"), requests.ConnectionError("refused")],
        [requests.exceptions.ConnectTimeout("connect timed out")],
    ],
)
def test_connection_errors_retried_then_success(errors):
    final = Resp(200)
    p, slept = policy(base=0.2)
    fn = scripted(*errors, final)
    assert call_with_retry(fn, p) is final
    assert p.counts == {"connection": len(errors)}
    assert [within_backoff(s, 0.2, i) for i, s in enumerate(slept)] == [True] * len(errors)
    assert fn.calls == len(errors) + 1


def test_connection_error_then_5xx_share_the_attempt_counter():
    p, slept = policy(base=0.2)
    call_with_retry(scripted(requests.ConnectionError("x"), Resp(503), Resp(200)), p)
    assert p.counts == {"connection": 1, "503": 1}
    assert within_backoff(slept[0], 0.2, 0)
    assert within_backoff(slept[1], 0.2, 1)


def test_connection_error_past_deadline_is_raised():
    p, slept = policy(deadline=0)
    err = requests.ConnectionError("connection refused")
    with pytest.raises(requests.ConnectionError) as info:
        call_with_retry(scripted(err, Resp(200)), p)
    assert info.value is err
    assert slept == []
    assert p.counts == {"connection": 1}


@pytest.mark.parametrize("exc", [ValueError("bad json"), requests.exceptions.InvalidURL("x"), KeyError("k")])
def test_other_exceptions_are_not_retried(exc):
    p, slept = policy()
    fn = scripted(exc, Resp(200))
    with pytest.raises(type(exc)):
        call_with_retry(fn, p)
    assert (fn.calls, slept, p.counts) == (1, [], {})


def test_counts_accumulate_across_calls_on_one_policy():
    p, _dummy = policy(base=0.0)
    call_with_retry(scripted(Resp(429, {"Retry-After": "0"}), Resp(200)), p)
    call_with_retry(scripted(Resp(429, {"Retry-After": "0"}), Resp(503), Resp(200)), p)
    assert p.counts == {"429": 2, "503": 1}


@pytest.mark.parametrize("after", ["1", "2", "30"])
def test_retry_after_waits_are_jittered_upwards(after):
    # Clients told the same Retry-After must not all come back in the same instant: at least the server's wait,
    # at most a quarter more, and not the same wait every time.
    waits = []
    for _dummy in range(20):
        p, slept = policy()
        call_with_retry(scripted(Resp(429, {"Retry-After": after}), Resp(200)), p)
        waits += slept
    assert all(float(after) <= w <= float(after) * 1.25 for w in waits), waits
    assert len(set(waits)) > 1, waits


@pytest.mark.parametrize(
    ("outcomes", "tokens"),
    [
        ([Resp(200)], 0),  # the first attempt is the caller's, paced by the caller
        ([Resp(503), Resp(200)], 1),
        ([Resp(429, {"Retry-After": "0"}), Resp(503), Resp(200)], 2),
        ([requests.ConnectionError("reset"), requests.ConnectionError("reset"), Resp(201)], 2),
    ],
)
def test_every_retry_takes_a_token_from_the_limiter(outcomes, tokens):
    taken = []
    p, _dummy = policy(acquire=lambda: taken.append(1))
    call_with_retry(scripted(*outcomes), p)
    assert len(taken) == tokens
