"""HexPlay's tables, one module per capability; Django and the rest of the app import them here."""

from playground.models.connections import Dialect, UpstreamConnection
from playground.models.conversations import (
    SHOWN_AT_ONCE,
    Conversation,
    EditRefused,
    branch,
    latest,
    latest_leaf,
    recover_interrupted_answers,
    search_conversations,
)
from playground.models.messages import (
    TOOL_CALL_ID,
    Message,
    check_tool_calls,
    new_tool_call_id,
    tool_turns_problem,
)
from playground.models.sharing import Share, new_share_token
from playground.models.tools import ToolClash, ToolDefinition, free_tool_name, import_tools

__all__ = [
    "SHOWN_AT_ONCE",
    "TOOL_CALL_ID",
    "Conversation",
    "Dialect",
    "EditRefused",
    "Message",
    "Share",
    "ToolClash",
    "ToolDefinition",
    "UpstreamConnection",
    "branch",
    "check_tool_calls",
    "free_tool_name",
    "import_tools",
    "latest",
    "latest_leaf",
    "new_share_token",
    "new_tool_call_id",
    "recover_interrupted_answers",
    "search_conversations",
    "tool_turns_problem",
]
