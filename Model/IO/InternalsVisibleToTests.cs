using System.Runtime.CompilerServices;

// Tests reach SafeTensors.Write's stream hook (a failing stream) and SafeTensors.Header.
[assembly: InternalsVisibleTo("InfoVae.Tests")]
