"""Files, screenshots and Slack links in a thread, turned into what the model can read.

    kinds       what a Slack file is (image, text, PDF, something else), from its metadata alone
    download    fetches a file's bytes from Slack with the bot token, capped, into memory bounded for all
    decoding    bytes → text in whatever encoding; binary refused
    images      Pillow: downscaled and re-encoded to what the model accepts, as a data URL
    pdf         PDFium (pypdfium2): the text of the first pages
    workers     the processes that parse files (images, PDFs, text), within limits of CPU, memory and time
    reading     the above per file, newest first, cached with the thread; every file read or said why not
    links       Slack message links, followed only where both the asker and the bot can see them
    attachments fits what was read into the input budget and hangs it on the messages it came with

Everything but `download`, `workers`, `reading` and `links` is plain code over bytes and strings, testable
alone. Files are untrusted: `images`, `pdf` and `decoding` run in `workers`' processes, never in the bot's.
"""
