namespace InfoVae.Tests.Support;

/// <summary>Lets <paramref name="limit"/> bytes through, then throws, like a disk that fills up mid-write.</summary>
public sealed class FailAfterStream(Stream inner, long limit, Func<Exception> failure) : Stream
{
    long written;
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        int room = (int)Math.Min(buffer.Length, limit - written);
        inner.Write(buffer[..room]);
        written += room;
        if (room < buffer.Length) throw failure();
    }
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override void Flush() => inner.Flush();
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => written; set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
