OThe wage claim is filed by the prosecutor together with the compensation claim.
2026-11-22