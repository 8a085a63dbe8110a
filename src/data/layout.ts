/** The release's dataset layout (EgoExo-8K): the two views and the reference images, matched by name. */
export const LAYOUT = { first: 'First_Video', third: 'Third_Video', reference: 'Reference_Image' } as const;
