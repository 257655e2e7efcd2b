"""The wire models: every request and response body of the API, one module per router.
The enums they use are the domain's (``vokaflow.domain``); nothing below the API imports
these."""
