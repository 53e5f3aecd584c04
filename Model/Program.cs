namespace InfoVae.Model;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("infovae: the trainer is not built yet (see issue 4).");
        return 2;
    }
}
