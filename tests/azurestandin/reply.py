"""How a handler answers: raise Reply(status, body, headers)."""


class Reply(Exception):
    def __init__(self, status: int, body=None, headers=None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def arm_error(status: int, code: str, message: str, details=None):
    """ARM's error envelope: {"error": {"code", "message", "details"}}."""
    err = {"code": code, "message": message}
    if details:
        err["details"] = details
    return Reply(status, {"error": err})


def graph_error(status: int, code: str, message: str):
    return Reply(status, {"error": {"code": code, "message": message,
                                    "innerError": {"date": "2026-01-01T00:00:00", "request-id": "standin"}}})
