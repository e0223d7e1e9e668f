#!/usr/bin/env python3
"""Regenerates crates/model/schemas/tables.txt from a Log Analytics schema dump.

Usage: scripts/gen_schemas.py ../shared/data/kql/schemas/_all_tables.json > crates/model/schemas/tables.txt

The input maps table -> {"columns": [[name, type], ...]}; types are normalized to Kusto's
scalar types. Columns listed in EXTRA (documented Defender XDR columns missing from the dump)
are appended.
"""
import json
import re
import sys

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

NORM = {
    "string": "string", "uri": "string", "guid": "guid", "datetime": "datetime",
    "date/time": "datetime", "double": "real", "real": "real", "float": "real",
    "int": "int", "int32": "int", "integer": "int", "bigint": "long", "long": "long",
    "int64": "long", "boolean": "bool", "bool": "bool", "sbyte": "bool",
    "dynamic": "dynamic", "object": "dynamic", "timespan": "timespan",
}
EXTRA = {
    "DeviceInfo": [("DeviceType", "string"), ("DeviceCategory", "string"),
                   ("OnboardingStatus", "string"), ("SensorHealthState", "string"),
                   ("ExposureLevel", "string"), ("IsInternetFacing", "bool"),
                   ("AssetValue", "string"), ("JoinType", "string")],
    "EmailEvents": [("ThreatTypes", "string"), ("ThreatNames", "string"),
                    ("DetectionMethods", "string"), ("ConfidenceLevel", "string"),
                    ("OrgLevelAction", "string"), ("UserLevelAction", "string"),
                    ("SenderDisplayName", "string"), ("SenderObjectId", "string")],
    "EmailAttachmentInfo": [("ThreatTypes", "string"), ("ThreatNames", "string"),
                            ("DetectionMethods", "string"), ("FileSize", "long")],
    "EmailUrlInfo": [("UrlDomain", "string"), ("UrlLocation", "string")],
    "UrlClickEvents": [("Timestamp", "datetime")],
    "DeviceProcessEvents": [("ProcessVersionInfoCompanyName", "string"),
                            ("ProcessVersionInfoProductName", "string"),
                            ("ProcessVersionInfoProductVersion", "string"),
                            ("ProcessVersionInfoInternalFileName", "string"),
                            ("ProcessVersionInfoOriginalFileName", "string"),
                            ("ProcessVersionInfoFileDescription", "string")],
    "SecurityIncident": [("ClosedTime", "datetime"), ("FirstModifiedTime", "datetime"),
                         ("ProviderName", "string"), ("ProviderIncidentId", "string"),
                         ("Tasks", "dynamic")],
}

def main() -> None:
    tables = json.load(open(sys.argv[1]))
    print("# Built-in table schemas: one table per line, `Table column:type ...`.")
    print("# Column names and Kusto types are the public facts of Microsoft Sentinel / Defender XDR")
    print("# (Log Analytics table reference), normalized to Kusto scalar types:")
    print("# bool int long real decimal string guid datetime timespan dynamic.")
    print("# Regenerate with scripts/gen_schemas.py.")
    for raw in sorted(tables, key=str.strip):
        name = raw.strip()
        if not IDENT.match(name):
            print(f"skipped table {name!r}: not an identifier", file=sys.stderr)
            continue
        seen, cols = set(), []
        for col, ty in tables[raw]["columns"] + EXTRA.get(name, []):
            col = col.replace("[UTC]", "").strip()
            if not IDENT.match(col):
                print(f"skipped column {name}.{col!r}: not an identifier", file=sys.stderr)
                continue
            if col in seen:
                continue
            seen.add(col)
            cols.append(f"{col}:{NORM[ty.strip().lower()]}")
        # Log Analytics stamps every row with its table name in `Type`; union queries use it.
        if "Type" not in seen:
            cols.append("Type:string")
        print(name + " " + " ".join(cols))

if __name__ == "__main__":
    main()
