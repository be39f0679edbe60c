"""An independent Open311 client against Wardline, in JSON and in XML.

Usage: roundtrip.py BASE_URL API_KEY   (BASE_URL ends in /open311/v2)

`georeport` (PyPI) lists the services, reads a service definition and reads requests back. It has
no call to create a request, so that one POST is made with the standard library exactly as the
GeoReport v2 spec describes it (form-encoded, `attribute[code]=value`). Prints `created <id>` per
request made; exits non-zero on the first mismatch.
"""

import json
import sys
import urllib.parse
import urllib.request

import xmltodict
from georeport import GeoReport


def as_list(value):
    """xmltodict gives a dict for one child and a list for several."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def check(condition, message):
    if not condition:
        print(f"FAILED: {message}", file=sys.stderr)
        sys.exit(1)


def main():
    base, key = sys.argv[1], sys.argv[2]
    for fmt in ("json", "xml"):
        client = GeoReport(base, api_key=key, output_format=fmt)

        services = as_list(client.get_service_list())
        codes = [s["service_code"] for s in services]
        check("street_light" in codes, f"{fmt}: street_light in {codes}")
        light = next(s for s in services if s["service_code"] == "street_light")
        check(str(light["metadata"]).lower() == "true", f"{fmt}: metadata {light}")

        definition = client.get_service_definition("street_light")
        attributes = definition["attributes"]
        if fmt == "xml":
            attributes = as_list(attributes["attribute"])
        state = next(a for a in attributes if a["code"] == "state")
        check(state["datatype"] == "singlevaluelist", f"{fmt}: datatype {state}")
        values = state["values"] if fmt == "json" else as_list(state["values"]["value"])
        check("flickering" in [v["key"] for v in values], f"{fmt}: values {values}")

        form = urllib.parse.urlencode(
            [
                ("api_key", key),
                ("service_code", "street_light"),
                ("lat", "10.7769"),
                ("long", "106.7009"),
                ("address_string", "12 Lê Lợi"),
                ("description", f"Đèn đường chập chờn ({fmt})"),
                ("attribute[state]", "flickering"),
            ]
        ).encode()
        with urllib.request.urlopen(
            urllib.request.Request(f"{base}/requests.{fmt}", data=form, method="POST")
        ) as resp:
            body = resp.read()
        if fmt == "json":
            created = json.loads(body)[0]
        else:
            created = as_list(xmltodict.parse(body)["service_requests"]["request"])[0]
        request_id = created["service_request_id"]
        check(bool(request_id), f"{fmt}: created {created}")

        one = client.get_service_request(request_id)
        check(one["service_request_id"] == request_id, f"{fmt}: read back {one}")
        check(one["service_code"] == "street_light", f"{fmt}: service_code {one}")
        check(one["status"] == "open", f"{fmt}: status {one}")
        check(one["description"] == f"Đèn đường chập chờn ({fmt})", f"{fmt}: {one}")

        found = as_list(client.get_service_requests(service_request_id=request_id))
        check([r["service_request_id"] for r in found] == [request_id], f"{fmt}: {found}")
        print(f"created {request_id}")


if __name__ == "__main__":
    main()
