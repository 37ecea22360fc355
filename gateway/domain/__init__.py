"""The unified domain: model, code tables and checks. No framework imports."""
