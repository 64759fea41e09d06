namespace Sharpen.Training;

using Sharpen.Algorithms;
using Sharpen.Torch.NN;

/// <summary>A trainer: the loss the shared loop minimises, the module it trains, and how the result is saved.</summary>
public interface ITrainer : ITrainStep, IDisposable
{
    /// <summary>The trained module (its parameters go to the optimiser; its state dict into checkpoints).</summary>
    Module Model { get; }

    /// <summary>Saves the trained model in Hugging Face layout (with its tokenizer) into <paramref name="dir"/>.</summary>
    void SaveFinal(string dir);
}

/// <summary>Trainers by recipe <c>method</c>. Each is built after <see cref="Torch.Torch.Seed"/>(train.seed), so its initialisation is repeatable.</summary>
public static class Trainers
{
    /// <summary>method → factory(recipe, run directory, progress output). Each factory checks the recipe first (<see cref="RecipeChecks"/>).</summary>
    public static readonly Registry<Func<Recipe, string, TextWriter, ITrainer>> Registry = new Registry<Func<Recipe, string, TextWriter, ITrainer>>("trainer method")
        .Add("sft", (r, dir, log) => new SftTrainer(Checked(r), log))
        .Add("preference", (r, dir, log) => new PreferenceTrainer(Checked(r), dir, log))
        .Add("reward", (r, dir, log) => new RewardTrainer(Checked(r), log))
        .Add("online", (r, dir, log) => new OnlineTrainer(Checked(r), dir, log));

    static Recipe Checked(Recipe r)
    {
        RecipeChecks.Validate(r);
        return r;
    }
}
