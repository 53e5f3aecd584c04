using SkiaSharp;

namespace InfoVae.Model.Pictures;

/// <summary>What the picture writers share: the font, a palette and PNG output.</summary>
static class Png
{
    /// <summary>
    /// DejaVu Sans (fonts-dejavu-core, on this Debian image) or whatever Skia finds. The NoDependencies native build
    /// reads fonts without fontconfig; on a machine with no font at all text is simply not drawn.
    /// </summary>
    public static readonly SKTypeface Typeface =
        SKFontManager.Default.MatchFamily("DejaVu Sans") ?? SKTypeface.Default;

    public static SKFont Font(float size) => new(Typeface, size) { Subpixel = true, Edging = SKFontEdging.Antialias };

    /// <summary>Tableau 10 (matplotlib's default cycle "tab10"): ten colours told apart by most readers.</summary>
    public static readonly SKColor[] Palette =
    [
        new(0x1f, 0x77, 0xb4), new(0xff, 0x7f, 0x0e), new(0x2c, 0xa0, 0x2c), new(0xd6, 0x27, 0x28),
            new(0x94, 0x67, 0xbd),
        new(0x8c, 0x56, 0x4b), new(0xe3, 0x77, 0xc2), new(0x7f, 0x7f, 0x7f), new(0xbc, 0xbd, 0x22),
            new(0x17, 0xbe, 0xcf),
    ];

    /// <summary>Encodes <paramref name="bitmap"/> as PNG at <paramref name="path"/>, creating its folder.</summary>
    /// <exception cref="UserError">the file cannot be written.</exception>
    public static void Save(SKBitmap bitmap, string path)
    {
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException($"Skia could not encode a {bitmap.Width} × {bitmap.Height} PNG.");
        try
        {
            if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder) Directory.CreateDirectory(folder);
            using var f = File.Create(path);
            data.SaveTo(f);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"could not write picture {path}: {e.Message}; choose a writable folder or free some "
                + "disk space.");
        }
    }
}
