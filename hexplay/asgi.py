"""ASGI entry point: HTTP goes to Django, websockets to the consumers of the chat and of runs."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hexplay.settings")
# Django must be set up before the consumers (and the models they import) are loaded.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from evals.routing import websocket_urlpatterns as run_sockets  # noqa: E402
from playground.routing import websocket_urlpatterns as chat_sockets  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Static files (vendored htmx included) are served by the site itself: the page works
        # offline and `make run` needs no web server in front.
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(chat_sockets + run_sockets))
        ),
    }
)
