"""Yubico's python-fido2, an independent CTAP2 client, against `hwa-virtual-key`.

The client in `hwa` and the virtual key were written together, so their agreeing proves
little on its own. This script drives the virtual key with another implementation of the same
protocols: CTAP-HID framing and channels, getInfo, PIN/UV auth protocols one and two with
permission tokens, makeCredential and getAssertion, and a wrong PIN. It then checks the
assertion signature with python-fido2's own COSE code. Exit status 0 means every step agreed.

    python3 ci/interop/fido2_client.py target/debug/hwa-virtual-key
"""

import hashlib
import os
import subprocess
import sys

try:
    from fido2.cose import CoseKey
    from fido2.ctap import CtapError
    from fido2.ctap2 import Ctap2
    from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2
    from fido2.hid import CtapHidDevice
    from fido2.hid.base import FileCtapHidConnection, HidDescriptor
except ImportError:
    sys.exit("python-fido2 is missing: run `bash ci/install-deps.sh` (or pip install fido2)")

PIN = "4321"
RP = {"id": "example.com", "name": "Example"}


class HidrawConnection(FileCtapHidConnection):
    """Writes reports the way Linux hidraw takes them: report ID 0 first."""

    def write_packet(self, data):
        super().write_packet(b"\0" + data)

    def read_packet(self):
        # A pseudo-terminal may hand a report over in pieces; hidraw never does.
        packet = b""
        while len(packet) < self.descriptor.report_size_in:
            packet += os.read(self.handle, self.descriptor.report_size_in - len(packet))
        return packet


def check(protocol_class, device):
    ctap = Ctap2(device)
    info = ctap.get_info()
    assert "FIDO_2_1" in info.versions, info.versions
    assert info.options.get("clientPin") is True, info.options
    pin = ClientPin(ctap, protocol_class())

    try:
        pin.get_pin_token("0000", ClientPin.PERMISSION.MAKE_CREDENTIAL, RP["id"])
        raise AssertionError("a wrong PIN gave a token")
    except CtapError as e:
        assert e.code == CtapError.ERR.PIN_INVALID, e
    retries = pin.get_pin_retries()[0]
    assert retries == 7, retries

    token = pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, RP["id"])
    assert pin.get_pin_retries()[0] == 8, "a right PIN resets the retries"
    cdh = hashlib.sha256(b"registration").digest()
    made = ctap.make_credential(
        cdh,
        RP,
        {"id": b"user-1", "name": "alice", "displayName": "Alice"},
        [{"type": "public-key", "alg": -7}],
        pin_uv_param=pin.protocol.authenticate(token, cdh),
        pin_uv_protocol=pin.protocol.VERSION,
    )
    data = made.auth_data
    assert data.is_user_verified(), "the PIN token verified the user"
    credential = data.credential_data

    token = pin.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, RP["id"])
    cdh = hashlib.sha256(b"assertion").digest()
    signed = ctap.get_assertion(
        RP["id"],
        cdh,
        [{"type": "public-key", "id": credential.credential_id}],
        pin_uv_param=pin.protocol.authenticate(token, cdh),
        pin_uv_protocol=pin.protocol.VERSION,
    )
    assert signed.auth_data.is_user_verified()
    key = CoseKey.parse(credential.public_key)
    key.verify(bytes(signed.auth_data) + cdh, signed.signature)
    print(f"protocol {pin.protocol.VERSION}: PIN token, credential and signature agree")


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} PATH-TO-hwa-virtual-key")
    binary = sys.argv[1]
    key = subprocess.Popen([binary, "--pin", PIN], stdout=subprocess.PIPE, text=True)
    try:
        line = key.stdout.readline()
        if " at " not in line:
            sys.exit(f"hwa-virtual-key did not print its device node: {line!r}")
        path = line.split(" at ")[1].split(" ")[0]
        descriptor = HidDescriptor(path, 0, 0, 64, 64, "hwa-virtual-key", None)
        device = CtapHidDevice(descriptor, HidrawConnection(descriptor))
        for protocol_class in (PinProtocolV2, PinProtocolV1):
            check(protocol_class, device)
    finally:
        key.terminate()
        key.wait()


if __name__ == "__main__":
    main()
