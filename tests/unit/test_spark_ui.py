"""The Spark UI's lock and key (hunthub.kernels.spark_ui): what the driver is given, the token the server signs,
and which drivers a server will show. The real driver refusing and accepting is in
tests/integration/test_pyspark_kernel.py, the route through the hub in tests/e2e (test_walls, test_analyst_journey)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from hunthub.kernels import spark_activity, spark_ui


def test_the_filter_joins_the_sites_own_filters_and_nothing_when_the_ui_is_off():
    assert spark_ui.ui_properties({}) == {"spark.ui.filters": spark_ui.FILTER}
    site = {"spark.ui.filters": "com.example.SsoFilter, " + spark_ui.FILTER}
    assert spark_ui.ui_properties(site) == {"spark.ui.filters": f"{spark_ui.FILTER},com.example.SsoFilter"}
    assert spark_ui.ui_properties({"spark.ui.enabled": "false"}) == {}


def test_every_driver_gets_a_key_of_its_own_of_256_bits():
    keys = {spark_ui.new_key() for _ in range(20)}
    assert len(keys) == 20
    # written as Spark's filter reads them: base64url (a '+' or '/' would stop the driver's UI from starting)
    assert all(len(base64.urlsafe_b64decode(k + "=")) == 32 and not set(k) & set("+/=") for k in keys)


def test_the_token_is_a_jws_signed_with_the_drivers_key():
    key = spark_ui.new_key()
    scheme, token = spark_ui.bearer(key).split(" ")
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    assert scheme == "Bearer"
    assert json.loads(base64.urlsafe_b64decode(pad(header))) == {"alg": "HS256"}
    expected = hmac.new(base64.urlsafe_b64decode(key + "="), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(pad(signature)) == expected
    assert spark_ui.bearer(spark_ui.new_key()) != spark_ui.bearer(key)


def test_a_server_knows_the_ui_keys_its_kernels_announced_and_no_other(tmp_path):
    class Spark:
        class sparkContext:  # noqa: N801 - the shape of pyspark's
            applicationId = "app-1"
            _jvm = None

    marker = spark_activity.announce(Spark, 4051, "a2V5", connection_file=str(tmp_path / "kernel-k1.json"))
    assert marker is not None and marker.stat().st_mode & 0o777 == 0o600
    (tmp_path / "hunthub-spark-k2.json").write_text("not json")  # a torn or foreign file is no driver
    (tmp_path / "hunthub-spark-k3.json").write_text(json.dumps({"ui_url": "http://127.0.0.1:4052", "app_id": "x"}))
    assert spark_ui.keys_by_port(tmp_path) == {4051: "a2V5"}
