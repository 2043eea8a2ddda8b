// Seeds 002/003 (workflow versioning): user onboarding 1.0.0 and 2.0.0 side by side.
import { task, workflow } from "@aiki/sdk";

export const sendWelcomeEmail = task({
  name: "send-welcome-email",
  async handler(input: { userId: string }) {
    console.log(`Welcome email sent to ${input.userId}`);
    return { sent: true };
  },
});

export const createUserProfile = task({
  name: "create-user-profile",
  async handler(input: { userId: string }) {
    console.log(`Profile created for ${input.userId}`);
    return { profileId: `profile-${input.userId}` };
  },
});

export const userOnboardingWorkflow = workflow({ name: "user-onboarding" });

// Version 1.0.0: Simple onboarding
export const userOnboardingV1 = userOnboardingWorkflow.v("1.0.0", {
  async handler(run, input: { userId: string }) {
    await sendWelcomeEmail.start(run, { userId: input.userId });
  },
});

// Version 2.0.0: Add profile creation
export const userOnboardingV2 = userOnboardingWorkflow.v("2.0.0", {
  async handler(run, input: { userId: string }) {
    await sendWelcomeEmail.start(run, { userId: input.userId });
    const profile = await createUserProfile.start(run, { userId: input.userId });
    return { profileId: profile.profileId };
  },
});
