global using InfoVae.Model.Data;
global using InfoVae.Model.IO;
