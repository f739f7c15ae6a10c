"""The signed-in person's account, whatever system they signed in with: their identities (API), export and erasure."""
