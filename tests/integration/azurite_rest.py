"""azurite_rest.py -- SharedKey-signed Blob REST requests against the local
Azurite, for the Python integration tests (not a test itself).

One signer for every test that must see or change storage behind the
programs' backs: create and delete containers, read a state blob, take or
break a lease. Azurite's development account and key are public (documented
by Microsoft)."""
import base64
import datetime
import hashlib
import hmac
import urllib.error
import urllib.request

ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")
BLOB_ENDPOINT = "http://127.0.0.1:10000/" + ACCOUNT


def use_port(port):
    """Points blob_request at an Azurite on `port` (e.g. a private one) and
    returns the connection string the programs need to reach it."""
    global BLOB_ENDPOINT
    BLOB_ENDPOINT = "http://127.0.0.1:%d/%s" % (port, ACCOUNT)
    return ("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;"
            % (ACCOUNT, ACCOUNT_KEY, BLOB_ENDPOINT))


def blob_request(method, path, query=None, ms_headers=None, body=b""):
    """One SharedKey-signed request to BLOB_ENDPOINT + path (path-style: the
    canonical resource repeats the account); returns (status, headers, body).
    ms_headers: extra x-ms-* headers (signed); body: what a PUT sends."""
    query = query or {}
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    headers = {"x-ms-date": date, "x-ms-version": "2021-08-06"}
    headers.update(ms_headers or {})
    canon_headers = "".join("%s:%s\n" % (k, headers[k]) for k in sorted(headers))
    canon_resource = "/%s/%s%s" % (ACCOUNT, ACCOUNT, path)
    for k in sorted(query):
        canon_resource += "\n%s:%s" % (k, query[k])
    # urllib sends a Content-Type with any body, so PUTs name one to sign.
    content_type = "application/octet-stream" if method == "PUT" else ""
    length = str(len(body)) if method == "PUT" and body else ""
    to_sign = "\n".join([method, "", "", length, "", content_type, "", "", "", "", "", ""]) + "\n"
    to_sign += canon_headers + canon_resource
    sig = base64.b64encode(hmac.new(base64.b64decode(ACCOUNT_KEY), to_sign.encode(),
                                    hashlib.sha256).digest()).decode()
    headers["Authorization"] = "SharedKey %s:%s" % (ACCOUNT, sig)
    if content_type:
        headers["Content-Type"] = content_type
    url = BLOB_ENDPOINT + path
    if query:
        url += "?" + "&".join("%s=%s" % (k, v) for k, v in query.items())
    req = urllib.request.Request(url, method=method, headers=headers,
                                 data=(body or b"") if method == "PUT" else None)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
