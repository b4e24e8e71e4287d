"""The one line the gateway says when Kafka refuses it: the cause and the setting to check,
never the password (infra/kafka.py describe_failure)."""

from __future__ import annotations

import ssl

import pytest
from aiokafka.errors import SaslAuthenticationFailed

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra.kafka import describe_failure

SETTINGS = Settings(_env_file=None, app_env="testing", kafka_brokers="b1:9095,b2:9095",
                    kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                    kafka_sasl_username="gateway", kafka_sasl_password="hunter2-kafka")


def cert_error() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate in certificate chain"
    return error


@pytest.mark.parametrize(("error", "expected"), [
    (SaslAuthenticationFailed("invalid credentials"),
     "SASL authentication failed for user 'gateway' (SCRAM-SHA-512): check "
     "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"),
    (cert_error(), "the brokers' TLS certificate is not trusted (self-signed certificate in "
                   "certificate chain): check KAFKA_SSL_CAFILE"),
    (ConnectionRefusedError(111, "refused"), "no broker answers at b1:9095,b2:9095 "
                                             "(ConnectionRefusedError)"),
])
def test_each_refusal_is_one_line_naming_the_cause_and_the_setting(error, expected):
    line = describe_failure(error, SETTINGS)
    assert line == expected
    assert "hunter2-kafka" not in line and "\n" not in line
