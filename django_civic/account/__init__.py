"""The signed-in person's account, whatever system they signed in with.

Their identities (the API), export and erasure.
"""
