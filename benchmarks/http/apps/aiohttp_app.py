"""The benchmark app on aiohttp's own server.   python aiohttp_app.py PORT"""
import sys

from aiohttp import web

from _common import MESSAGE


async def plaintext(request):
    return web.Response(text=MESSAGE)


async def json_(request):
    return web.json_response({"message": MESSAGE})


app = web.Application()
app.router.add_get("/plaintext", plaintext)
app.router.add_get("/json", json_)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
