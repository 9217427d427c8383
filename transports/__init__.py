"""The Gearman client, worker and admin APIs for blocking sockets, asyncio and trio."""
