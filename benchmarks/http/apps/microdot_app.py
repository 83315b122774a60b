"""The benchmark app on microdot (asyncio).   python microdot_app.py PORT"""
import sys

from microdot import Microdot

from _common import MESSAGE

app = Microdot()


@app.get("/plaintext")
async def plaintext(request):
    return MESSAGE, 200, {"Content-Type": "text/plain"}


@app.get("/json")
async def json_(request):
    return {"message": MESSAGE}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]))
