"""Intake: what a request passes before its body is trusted.

The in-flight limit, header limits, the client's address through trusted proxies, IP and certificate
allowlists, and rate limits.
"""
