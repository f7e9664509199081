"""Test harness: real throwaway servers (PostgreSQL 15, SecantusDB, moto S3) on 127.0.0.1."""
