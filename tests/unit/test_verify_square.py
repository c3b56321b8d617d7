"""Square: the vector from square-python-sdk's webhooks-helper tests.

https://github.com/square/square-python-sdk/blob/master/tests/utilities/test_webhooks_helper.py
"""

from __future__ import annotations

from multidict import CIMultiDict
from pydantic import SecretStr

from hookgate.gateway.verify.base import Verdict, WebhookRequest
from hookgate.gateway.verify.senders import SquareConfig

BODY = (
    b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification",'
    b'"event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z",'
    b'"data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}'
)
SIGNATURE = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="
KEY = "Ibxx_5AKakO-3qeNVR61Dw"
NOTIFICATION_URL = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"


def verify(body: bytes = BODY, sig: str = SIGNATURE, key: str = KEY, url: str = NOTIFICATION_URL) -> Verdict:
    verifier = SquareConfig(type="square", secrets=[SecretStr(key)], signed_url=url).build()
    headers = CIMultiDict([("x-square-hmacsha256-signature", sig)])
    # the request URL is irrelevant: Square signs the configured notification URL
    return verifier.verify(WebhookRequest("POST", "http://10.0.0.1:8080/hooks/x", headers, body))


def test_published_vector_is_accepted_and_mapped() -> None:
    verdict = verify()
    assert verdict.ok
    assert verdict.delivery_id == "ac3ac95b-f97d-458c-a6e6-18981597e05f"
    assert verdict.event_type == "com.square.webhooks.test_notification"
    assert verdict.subject == "bc368e64-01aa-407e-b46e-3231809b1129"


def test_published_mismatches_are_rejected() -> None:
    assert verify(url="https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9").reason == "bad_signature"
    assert verify(key="MCmhFRxGX82xMwg5FsaoQA").reason == "bad_signature"
    assert verify(sig="1z2n3DEJJiUPKcPzQo1ftvbxGdw=").reason == "bad_signature"
    assert verify(body=BODY.replace(b"2022-07-13", b"2022-06-13")).reason == "bad_signature"
